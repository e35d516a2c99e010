// Launchers of "adamw" (one tensor) and "adamw_multi" (a list of tensors in one call).
//   adamw:       { n, gradType, param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay,
//                  gradScale }
//   adamw_multi: { tensors: [{ n, gradType, param, grad, m, v }, ...], step, lr, ... }
// param, m, v are f32 buffers of >= 4n bytes, grad f32 or bf16 of >= n elements. Every written
// buffer must be distinct from every other operand (in-place updates through aliases would be
// order dependent); a gradient may be shared by several tensors.
#include <set>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/buffer_handle.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

AdamwHyper hyperFromJs(const Napi::Object& spec, const char* kernel) {
  AdamwHyper h;
  double step = numberProp(spec, "step");
  if (!(step >= 1) || step > 9007199254740992.0 || step != static_cast<double>(static_cast<int64_t>(step))) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " step must be an integer >= 1",
                "an integer in [1, 2^53]", std::to_string(step));
  }
  h.step = static_cast<int64_t>(step);
  h.lr = static_cast<float>(scalarProp(spec, kernel, "lr", 0, 1e30));
  h.beta1 = static_cast<float>(scalarProp(spec, kernel, "beta1", 0, 1, true));
  h.beta2 = static_cast<float>(scalarProp(spec, kernel, "beta2", 0, 1, true));
  h.eps = static_cast<float>(scalarProp(spec, kernel, "eps", 0, 1e30));
  h.weightDecay = static_cast<float>(scalarProp(spec, kernel, "weightDecay", 0, 1e30));
  h.gradScale = static_cast<float>(scalarProp(spec, kernel, "gradScale", 0, 1e30));
  return h;
}

struct TensorOperands {
  AdamwTensor tensor;
  BufferHandle *param, *grad, *m, *v;
};

TensorOperands tensorFromJs(Napi::Env env, const Napi::Object& t, const char* kernel,
                            const std::shared_ptr<DeviceState>& device) {
  TensorOperands o;
  o.tensor.n = countProp(t, "n");
  o.tensor.gradType = dtypeProp(t, kernel, "gradType");
  int64_t f32Bytes = checkedBytes(kernel, "param", o.tensor.n, 4);
  int64_t gradBytes =
      checkedBytes(kernel, "grad", o.tensor.n, static_cast<int64_t>(dtypeSize(o.tensor.gradType)));
  o.param = bufferProp(env, t, kernel, "param", device, f32Bytes);
  o.grad = bufferProp(env, t, kernel, "grad", device, gradBytes);
  o.m = bufferProp(env, t, kernel, "m", device, f32Bytes);
  o.v = bufferProp(env, t, kernel, "v", device, f32Bytes);
  requireDistinct(kernel, "param", o.param, {o.grad, o.m, o.v});
  requireDistinct(kernel, "m", o.m, {o.grad, o.v});
  requireDistinct(kernel, "v", o.v, {o.grad});
  o.tensor.param = static_cast<float*>(o.param->data("write"));
  o.tensor.grad = o.grad->data("read");
  o.tensor.m = static_cast<float*>(o.m->data("write"));
  o.tensor.v = static_cast<float*>(o.v->data("write"));
  return o;
}

void launchAdamw(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  AdamwArgs a;
  a.hyper = hyperFromJs(spec, "adamw");
  a.tensor = tensorFromJs(env, spec, "adamw", device).tensor;
  device->backend->kernels().adamw(device->backend->stream(), a);
}

void launchAdamwMulti(Napi::Env env, const Napi::Object& spec,
                      const std::shared_ptr<DeviceState>& device) {
  const char* kernel = "adamw_multi";
  AdamwMultiArgs a;
  a.hyper = hyperFromJs(spec, kernel);
  Napi::Value list = spec.Get("tensors");
  if (!list.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, "adamw_multi tensors must be an array",
                "an array of { n, gradType, param, grad, m, v }", jsTypeName(list));
  }
  Napi::Array arr = list.As<Napi::Array>();
  std::vector<AdamwTensor> tensors;
  std::set<const BufferHandle*> written, read;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value item = arr.Get(k);
    if (!item.IsObject()) {
      throw Error(ErrorCode::InvalidArgument,
                  "adamw_multi tensors[" + std::to_string(k) + "] must be an object",
                  "{ n, gradType, param, grad, m, v }", jsTypeName(item));
    }
    TensorOperands o = tensorFromJs(env, item.As<Napi::Object>(), kernel, device);
    for (const BufferHandle* w : {o.param, o.m, o.v}) {
      if (!written.insert(w).second || read.count(w)) {
        throw Error(ErrorCode::InvalidArgument,
                    "adamw_multi tensors[" + std::to_string(k) +
                        "] reuses a buffer that another tensor of the call uses",
                    "distinct param, m and v buffers for every tensor", "a shared buffer");
      }
    }
    if (written.count(o.grad)) {
      throw Error(ErrorCode::InvalidArgument,
                  "adamw_multi tensors[" + std::to_string(k) +
                      "].grad is a buffer that the call writes",
                  "gradients distinct from every param, m and v", "a shared buffer");
    }
    read.insert(o.grad);
    tensors.push_back(o.tensor);
  }
  a.count = static_cast<int64_t>(tensors.size());
  a.tensors = tensors.data();
  device->backend->kernels().adamwMulti(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("adamw", launchAdamw);
VIT_REGISTER_KERNEL_LAUNCHER("adamw_multi", launchAdamwMulti);

}  // namespace vit::addon
