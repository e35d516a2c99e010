// launch('mean_pool', { dtype, b, t, d, x, y }) and launch('mean_pool_bwd', { dtype, b, t, d, dy,
// dx }): native/kernels.h MeanPoolArgs / MeanPoolBwdArgs.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchMeanPool(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "mean_pool";
  MeanPoolArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool needs at least one token", "t >= 1", "0");
  Operand x = bufferProp(ctx, spec, op, "x", {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  Operand y = bufferProp(ctx, spec, op, "y", {elementCount(op, {a.b, a.d}), a.dtype});
  requireDistinct(op, "y", y, {x});
  a.x = x.address;
  a.y = y.address;
  return [a](exec::RunContext& run) { run.kernels().meanPool(run.stream(), a); };
}

exec::KernelCall launchMeanPoolBwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "mean_pool_bwd";
  MeanPoolBwdArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool_bwd needs at least one token", "t >= 1", "0");
  Operand dy = bufferProp(ctx, spec, op, "dy", {elementCount(op, {a.b, a.d}), a.dtype});
  Operand dx = bufferProp(ctx, spec, op, "dx", {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  requireDistinct(op, "dx", dx, {dy});
  a.dy = dy.address;
  a.dx = dx.address;
  return [a](exec::RunContext& run) { run.kernels().meanPoolBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("mean_pool", launchMeanPool);
VIT_REGISTER_KERNEL_LAUNCHER("mean_pool_bwd", launchMeanPoolBwd);

}  // namespace vit::addon
