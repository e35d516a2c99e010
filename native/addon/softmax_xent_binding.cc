// launch('softmax_xent', { dtype, n, c, epsilon, dscale, logits, labels, loss, dlogits? }):
// native/kernels.h SoftmaxXentArgs. Label values are checked by the kernel (they live in a buffer).
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchSoftmaxXent(LaunchContext& ctx, const Napi::Object& spec) {
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
  Operand logits = bufferProp(ctx, spec, op, "logits", {all, a.dtype});
  Operand labels = bufferProp(ctx, spec, op, "labels", {rows, DType::I32});
  Operand loss = bufferProp(ctx, spec, op, "loss", {rows, DType::F32});
  Operand dlogits = optionalBufferProp(ctx, spec, op, "dlogits", {all, a.dtype});
  requireDistinct(op, "loss", loss, {logits, labels, dlogits});
  requireDistinct(op, "dlogits", dlogits, {logits, labels});
  a.logits = logits.address;
  a.labels = static_cast<const int32_t*>(labels.address);
  a.loss = static_cast<float*>(loss.address);
  a.dlogits = dlogits.address;
  return [a](exec::RunContext& run) { run.kernels().softmaxXent(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("softmax_xent", launchSoftmaxXent);

}  // namespace vit::addon
