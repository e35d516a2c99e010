// launch('axpby', { dtype, n, alpha, x, beta, y }): native/kernels.h AxpbyArgs, y = alpha x + beta y.
// alpha and beta may be dynamic in a plan (plan-format.ts PlanScalar): scaling by a factor computed
// in the same step. x may be y itself (each element is read, then written, by one thread), but may
// not overlap it partially, which would make the result depend on the order of the work.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchAxpby(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "axpby";
  AxpbyArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  const int64_t n = elementCount(op, {a.n});
  const exec::ScalarRange finite{-kF32Max, kF32Max};
  exec::DynamicScalar alpha = dynamicScalarProp(ctx, spec, op, "alpha", finite);
  exec::DynamicScalar beta = dynamicScalarProp(ctx, spec, op, "beta", finite);
  Operand x = bufferProp(ctx, spec, op, "x", {n, a.dtype});
  Operand y = bufferProp(ctx, spec, op, "y", {n, a.dtype});
  if (x.address != y.address) {
    requireDistinct(op, "y", y, {x}, "y identical to x or disjoint from it");
  }
  a.x = x.address;
  a.y = y.address;
  return [a, alpha, beta](exec::RunContext& run) mutable {
    a.alpha = alpha.resolveF32(run, a.alphaPtr);
    a.beta = beta.resolveF32(run, a.betaPtr);
    run.kernels().axpby(run.stream(), a);
  };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("axpby", launchAxpby);

}  // namespace vit::addon
