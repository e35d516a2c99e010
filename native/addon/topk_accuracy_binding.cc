// launch('topk_accuracy', { dtype, n, c, k, logits, labels, counts }): native/kernels.h
// TopkAccuracyArgs; counts is i32 [2] = [top-1 hits, top-k hits].
#include <cstdint>
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchTopkAccuracy(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "topk_accuracy";
  TopkAccuracyArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.c = countProp(spec, "c");
  a.k = countProp(spec, "k");
  if (a.k < 1) throw Error(ErrorCode::InvalidArgument, "topk_accuracy k must be at least 1", "k >= 1", "0");
  if (a.c == 0 && a.n > 0) {
    throw Error(ErrorCode::InvalidArgument, "topk_accuracy needs at least one class", "c >= 1", "0");
  }
  if (a.n > INT32_MAX) {
    throw Error(ErrorCode::InvalidArgument, "topk_accuracy counts are i32", "n <= 2147483647", std::to_string(a.n));
  }
  int64_t all = elementCount(op, {a.n, a.c});
  Operand logits = bufferProp(ctx, spec, op, "logits", {all, a.dtype});
  Operand labels = bufferProp(ctx, spec, op, "labels", {a.n, DType::I32});
  Operand counts = bufferProp(ctx, spec, op, "counts", {2, DType::I32});
  requireDistinct(op, "counts", counts, {logits, labels});
  a.logits = logits.address;
  a.labels = static_cast<const int32_t*>(labels.address);
  a.counts = static_cast<int32_t*>(counts.address);
  return [a](exec::RunContext& run) { run.kernels().topkAccuracy(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("topk_accuracy", launchTopkAccuracy);

}  // namespace vit::addon
