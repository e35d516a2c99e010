// launch('softmax_xent', { dtype, n, c, epsilon, dscale, logits, labels, loss, dlogits? }):
// native/kernels.h SoftmaxXentArgs. Label values are checked by the kernel (they live in a buffer).
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchSoftmaxXent(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "softmax_xent";
  SoftmaxXentArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.c = countProp(spec, "c");
  a.epsilon = static_cast<float>(scalarProp(spec, op, "epsilon", 0.0, 1.0));
  a.dscale = static_cast<float>(scalarProp(spec, op, "dscale", -kF32Max, kF32Max));
  if (a.c == 0 && a.n > 0) {
    throw Error(ErrorCode::InvalidArgument, "softmax_xent needs at least one class", "c >= 1", "0");
  }
  int64_t rows = elementCount(op, {a.n}), all = elementCount(op, {a.n, a.c});
  BufferHandle* logits = bufferProp(env, spec, op, "logits", device, {all, a.dtype});
  BufferHandle* labels = bufferProp(env, spec, op, "labels", device, {rows, DType::I32});
  BufferHandle* loss = bufferProp(env, spec, op, "loss", device, {rows, DType::F32});
  BufferHandle* dlogits = optionalBufferProp(env, spec, op, "dlogits", device, {all, a.dtype});
  requireDistinct(op, "loss", loss, {logits, labels, dlogits});
  requireDistinct(op, "dlogits", dlogits, {logits, labels});
  a.logits = logits->data("read");
  a.labels = static_cast<const int32_t*>(labels->data("read"));
  a.loss = static_cast<float*>(loss->data("write"));
  a.dlogits = dlogits ? dlogits->data("write") : nullptr;
  device->backend->kernels().softmaxXent(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("softmax_xent", launchSoftmaxXent);

}  // namespace vit::addon
