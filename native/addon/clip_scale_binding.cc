// launch('clip_scale', { norm, maxNorm, scale }): native/kernels.h ClipScaleArgs. norm and scale are
// f32 [1] in distinct memory; maxNorm a positive finite f32.

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchClipScale(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "clip_scale";
  ClipScaleArgs a;
  double maxNorm = scalarProp(spec, op, "maxNorm", 0, kF32Max);
  a.maxNorm = static_cast<float>(maxNorm);
  // Checked after the cast: 1e-50 is a positive double but a zero float, and 0 would divide to 0.
  if (!(a.maxNorm > 0.0f)) {
    throw Error(ErrorCode::InvalidArgument, "clip_scale maxNorm must be a positive f32",
                "maxNorm > 0 in f32", exec::numberText(maxNorm));
  }
  Operand norm = bufferProp(ctx, spec, op, "norm", {1, DType::F32});
  Operand scale = bufferProp(ctx, spec, op, "scale", {1, DType::F32});
  requireDistinct(op, "scale", scale, {norm});
  a.norm = static_cast<const float*>(norm.address);
  a.scale = static_cast<float*>(scale.address);
  return [a](exec::RunContext& run) { run.kernels().clipScale(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("clip_scale", launchClipScale);

}  // namespace vit::addon
