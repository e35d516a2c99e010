// Launchers of "adamw" (one tensor) and "adamw_multi" (a list of tensors in one call).
//   adamw:       { n, gradType, param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay,
//                  gradScale }
//   adamw_multi: { tensors: [{ n, gradType, param, grad, m, v }, ...], step, lr, ... }
// param, m, v are f32 buffers of >= 4n bytes, grad f32 or bf16 of >= n elements. Every written
// buffer must be distinct from every other operand (in-place updates through aliases would be
// order dependent); a gradient may be shared by several tensors. In a plan, step, lr, weightDecay
// and gradScale may be dynamic (plan-format.ts PlanScalar): the schedule's learning rate and the
// clip factor change every step while the call stays prepared.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

// AdamwHyper with its per-run fields left open until the call runs.
struct Hyper {
  AdamwHyper fixed;
  exec::DynamicScalar step, lr, weightDecay, gradScale;

  AdamwHyper resolve(exec::RunContext& run) const {
    AdamwHyper h = fixed;
    h.step = step.resolveI64(run, h.stepPtr);
    h.lr = lr.resolveF32(run, h.lrPtr);
    h.weightDecay = weightDecay.resolveF32(run, h.weightDecayPtr);
    h.gradScale = gradScale.resolveF32(run, h.gradScalePtr);
    return h;
  }
};

Hyper hyperFromJs(LaunchContext& ctx, const Napi::Object& spec, const char* kernel) {
  Hyper h;
  h.step = dynamicScalarProp(ctx, spec, kernel, "step", {1, 9007199254740992.0, false, true});
  h.lr = dynamicScalarProp(ctx, spec, kernel, "lr", {0, 1e30});
  h.fixed.beta1 = static_cast<float>(scalarProp(spec, kernel, "beta1", 0, 1, true));
  h.fixed.beta2 = static_cast<float>(scalarProp(spec, kernel, "beta2", 0, 1, true));
  h.fixed.eps = static_cast<float>(scalarProp(spec, kernel, "eps", 0, 1e30));
  h.weightDecay = dynamicScalarProp(ctx, spec, kernel, "weightDecay", {0, 1e30});
  h.gradScale = dynamicScalarProp(ctx, spec, kernel, "gradScale", {0, 1e30});
  return h;
}

struct TensorOperands {
  AdamwTensor tensor;
  Operand param, grad, m, v;
};

TensorOperands tensorFromJs(LaunchContext& ctx, const Napi::Object& t, const char* kernel) {
  TensorOperands o;
  o.tensor.n = countProp(t, "n");
  o.tensor.gradType = dtypeProp(t, kernel, "gradType");
  int64_t f32Bytes = checkedBytes(kernel, "param", o.tensor.n, 4);
  int64_t gradBytes =
      checkedBytes(kernel, "grad", o.tensor.n, static_cast<int64_t>(dtypeSize(o.tensor.gradType)));
  o.param = bufferProp(ctx, t, kernel, "param", f32Bytes);
  o.grad = bufferProp(ctx, t, kernel, "grad", gradBytes);
  o.m = bufferProp(ctx, t, kernel, "m", f32Bytes);
  o.v = bufferProp(ctx, t, kernel, "v", f32Bytes);
  requireDistinct(kernel, "param", o.param, {o.grad, o.m, o.v});
  requireDistinct(kernel, "m", o.m, {o.grad, o.v});
  requireDistinct(kernel, "v", o.v, {o.grad});
  o.tensor.param = static_cast<float*>(o.param.address);
  o.tensor.grad = o.grad.address;
  o.tensor.m = static_cast<float*>(o.m.address);
  o.tensor.v = static_cast<float*>(o.v.address);
  return o;
}

exec::KernelCall launchAdamw(LaunchContext& ctx, const Napi::Object& spec) {
  Hyper hyper = hyperFromJs(ctx, spec, "adamw");
  AdamwArgs a;
  a.tensor = tensorFromJs(ctx, spec, "adamw").tensor;
  return [a, hyper](exec::RunContext& run) mutable {
    a.hyper = hyper.resolve(run);
    run.kernels().adamw(run.stream(), a);
  };
}

// One operand of a multi-tensor call, for the overlap sweep.
struct Use {
  Operand operand;
  uint32_t tensor;
  bool written;
};

// Every written range disjoint from every other range of the call (gradients may overlap each
// other: several parameters may share one). Sorting by allocation and offset, then keeping the
// furthest end of earlier writes and reads, finds any overlap in O(n log n), for the hundreds of
// tensors of a real model.
void requireDisjointTensors(std::vector<Use> uses) {
  std::sort(uses.begin(), uses.end(), [](const Use& x, const Use& y) {
    return x.operand.base != y.operand.base ? x.operand.base < y.operand.base
                                            : x.operand.offset < y.operand.offset;
  });
  const void* base = nullptr;
  const Use* lastWrite = nullptr;
  const Use* lastRead = nullptr;
  uint64_t writeEnd = 0, readEnd = 0;
  auto extentEnd = [](const Use& u) {
    return u.operand.offset + (u.operand.isView() ? u.operand.bytes
                                                  : std::max<uint64_t>(u.operand.bytes, 1));
  };
  for (const Use& u : uses) {
    if (u.operand.base != base) {
      base = u.operand.base;
      lastWrite = lastRead = nullptr;
      writeEnd = readEnd = 0;
    }
    const bool hitsWrite = lastWrite && u.operand.offset < writeEnd;
    const bool hitsRead = u.written && lastRead && u.operand.offset < readEnd;
    if (hitsWrite || hitsRead) {
      const Use& other = hitsWrite ? *lastWrite : *lastRead;
      uint32_t a = std::min(u.tensor, other.tensor), b = std::max(u.tensor, other.tensor);
      throw Error(ErrorCode::InvalidArgument,
                  "adamw_multi tensors[" + std::to_string(b) + "] uses memory that tensors[" +
                      std::to_string(a) + "] " + (other.written || u.written ? "writes" : "reads"),
                  "distinct param, m and v buffers for every tensor, and gradients distinct from "
                  "all of them",
                  "a shared buffer");
    }
    const uint64_t end = extentEnd(u);
    if (u.written && end > writeEnd) writeEnd = end, lastWrite = &u;
    if (!u.written && end > readEnd) readEnd = end, lastRead = &u;
  }
}

exec::KernelCall launchAdamwMulti(LaunchContext& ctx, const Napi::Object& spec) {
  const char* kernel = "adamw_multi";
  Hyper hyper = hyperFromJs(ctx, spec, kernel);
  Napi::Value list = spec.Get("tensors");
  if (!list.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, "adamw_multi tensors must be an array",
                "an array of { n, gradType, param, grad, m, v }", jsTypeName(list));
  }
  Napi::Array arr = list.As<Napi::Array>();
  auto tensors = std::make_shared<std::vector<AdamwTensor>>();
  std::vector<Use> uses;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value item = arr.Get(k);
    if (!item.IsObject()) {
      throw Error(ErrorCode::InvalidArgument,
                  "adamw_multi tensors[" + std::to_string(k) + "] must be an object",
                  "{ n, gradType, param, grad, m, v }", jsTypeName(item));
    }
    TensorOperands o = tensorFromJs(ctx, item.As<Napi::Object>(), kernel);
    for (const Operand& w : {o.param, o.m, o.v}) uses.push_back({w, k, true});
    uses.push_back({o.grad, k, false});
    tensors->push_back(o.tensor);
  }
  requireDisjointTensors(std::move(uses));
  // The tensor list is shared by copies of the call: it is built once, at preparation.
  return [tensors, hyper](exec::RunContext& run) {
    AdamwMultiArgs a;
    a.hyper = hyper.resolve(run);
    a.count = static_cast<int64_t>(tensors->size());
    a.tensors = tensors->data();
    run.kernels().adamwMulti(run.stream(), a);
  };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("adamw", launchAdamw);
VIT_REGISTER_KERNEL_LAUNCHER("adamw_multi", launchAdamwMulti);

}  // namespace vit::addon
