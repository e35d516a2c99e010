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
  a.dtype = dtypeOf(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.c = countProp(spec, "c");
  a.epsilon = rangedProp(spec, op, "epsilon", 0.0, 1.0);
  a.dscale = finiteProp(spec, op, "dscale");
  int64_t rows = elementsOf(op, {a.n}), all = elementsOf(op, {a.n, a.c});
  BufferHandle* logits = operandOf(env, spec, op, "logits", device, all, a.dtype);
  BufferHandle* targets = operandOf(env, spec, op, "targets", device, all, DType::F32);
  BufferHandle* loss = operandOf(env, spec, op, "loss", device, rows, DType::F32);
  BufferHandle* dlogits = absent(spec, "dlogits") ? nullptr : operandOf(env, spec, op, "dlogits", device, all, a.dtype);
  requireDistinct(op, loss, {logits, targets, dlogits});
  requireDistinct(op, dlogits, {logits, targets});
  a.logits = logits->data("read");
  a.targets = static_cast<const float*>(targets->data("read"));
  a.loss = static_cast<float*>(loss->data("write"));
  a.dlogits = dlogits ? dlogits->data("write") : nullptr;
  device->backend->kernels().sigmoid_xent(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("sigmoid_xent", launchSigmoidXent);

}  // namespace vit::addon
