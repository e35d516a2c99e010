// launch('reduce_sum', { dtype, n, squares, x, out }): native/kernels.h ReduceSumArgs; out is f32 [1].
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchReduceSum(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "reduce_sum";
  ReduceSumArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.squares = boolProp(spec, "squares");
  Operand x = bufferProp(ctx, spec, op, "x", {elementCount(op, {a.n}), a.dtype});
  Operand out = bufferProp(ctx, spec, op, "out", {1, DType::F32});
  requireDistinct(op, "out", out, {x});
  a.x = x.address;
  a.out = static_cast<float*>(out.address);
  return [a](exec::RunContext& run) { run.kernels().reduceSum(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("reduce_sum", launchReduceSum);

}  // namespace vit::addon
