// launch('sigmoid_xent', { dtype, n, c, epsilon, dscale, logits, targets, loss, dlogits? }):
// native/kernels.h SigmoidXentArgs. Target values are checked by the kernel.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchSigmoidXent(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "sigmoid_xent";
  SigmoidXentArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.c = countProp(spec, "c");
  a.epsilon = static_cast<float>(scalarProp(spec, op, "epsilon", 0.0, 1.0));
  a.dscale = static_cast<float>(scalarProp(spec, op, "dscale", -kF32Max, kF32Max));
  int64_t rows = elementCount(op, {a.n}), all = elementCount(op, {a.n, a.c});
  BufferHandle* logits = bufferProp(env, spec, op, "logits", device, {all, a.dtype});
  BufferHandle* targets = bufferProp(env, spec, op, "targets", device, {all, DType::F32});
  BufferHandle* loss = bufferProp(env, spec, op, "loss", device, {rows, DType::F32});
  BufferHandle* dlogits = optionalBufferProp(env, spec, op, "dlogits", device, {all, a.dtype});
  requireDistinct(op, "loss", loss, {logits, targets, dlogits});
  requireDistinct(op, "dlogits", dlogits, {logits, targets});
  a.logits = logits->data("read");
  a.targets = static_cast<const float*>(targets->data("read"));
  a.loss = static_cast<float*>(loss->data("write"));
  a.dlogits = dlogits ? dlogits->data("write") : nullptr;
  device->backend->kernels().sigmoidXent(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("sigmoid_xent", launchSigmoidXent);

}  // namespace vit::addon
