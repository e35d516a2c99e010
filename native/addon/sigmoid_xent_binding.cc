// launch('sigmoid_xent', { dtype, n, c, epsilon, dscale, logits, targets, loss, dlogits? }):
// native/kernels.h SigmoidXentArgs. Target values are checked by the kernel.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchSigmoidXent(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "sigmoid_xent";
  SigmoidXentArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.c = countProp(spec, "c");
  a.epsilon = static_cast<float>(scalarProp(spec, op, "epsilon", 0.0, 1.0));
  a.dscale = static_cast<float>(scalarProp(spec, op, "dscale", -kF32Max, kF32Max));
  int64_t rows = elementCount(op, {a.n}), all = elementCount(op, {a.n, a.c});
  Operand logits = bufferProp(ctx, spec, op, "logits", {all, a.dtype});
  Operand targets = bufferProp(ctx, spec, op, "targets", {all, DType::F32});
  Operand loss = bufferProp(ctx, spec, op, "loss", {rows, DType::F32});
  Operand dlogits = optionalBufferProp(ctx, spec, op, "dlogits", {all, a.dtype});
  requireDistinct(op, "loss", loss, {logits, targets, dlogits});
  requireDistinct(op, "dlogits", dlogits, {logits, targets});
  a.logits = logits.address;
  a.targets = static_cast<const float*>(targets.address);
  a.loss = static_cast<float*>(loss.address);
  a.dlogits = dlogits.address;
  return [a](exec::RunContext& run) { run.kernels().sigmoidXent(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("sigmoid_xent", launchSigmoidXent);

}  // namespace vit::addon
