// launch('cast', { from, to, n, x, y }): native/kernels.h CastArgs.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchCast(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "cast";
  CastArgs a;
  a.from = dtypeProp(spec, op, "from", {DType::F32, DType::BF16});
  a.to = dtypeProp(spec, op, "to", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  int64_t n = elementCount(op, {a.n});
  Operand x = bufferProp(ctx, spec, op, "x", {n, a.from});
  Operand y = bufferProp(ctx, spec, op, "y", {n, a.to});
  requireDistinct(op, "y", y, {x});
  a.x = x.address;
  a.y = y.address;
  return [a](exec::RunContext& run) { run.kernels().cast(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("cast", launchCast);

}  // namespace vit::addon
