// launch('patchify' | 'unpatchify', { dtype, b, h, w, c, p, images, patches }): native/kernels.h
// PatchifyArgs. patchify writes patches from images, unpatchify images from patches.
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

template <bool kToPatches>
exec::KernelCall launchPermute(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = kToPatches ? "patchify" : "unpatchify";
  PatchifyArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.h = countProp(spec, "h");
  a.w = countProp(spec, "w");
  a.c = countProp(spec, "c");
  a.p = countProp(spec, "p");
  if (a.p < 1 || a.h % a.p != 0 || a.w % a.p != 0) {
    throw Error(ErrorCode::InvalidArgument, std::string(op) + ": H and W must be multiples of the patch size p",
                "p >= 1 dividing h and w",
                "h " + std::to_string(a.h) + ", w " + std::to_string(a.w) + ", p " + std::to_string(a.p));
  }
  int64_t n = elementCount(op, {a.b, a.h, a.w, a.c});
  Operand images = bufferProp(ctx, spec, op, "images", {n, a.dtype});
  Operand patches = bufferProp(ctx, spec, op, "patches", {n, a.dtype});
  requireDistinct(op, kToPatches ? "patches" : "images", kToPatches ? patches : images,
                  {kToPatches ? images : patches});
  a.images = images.address;
  a.patches = patches.address;
  return [a](exec::RunContext& run) {
    const KernelTable& kernels = run.kernels();
    (kToPatches ? kernels.patchify : kernels.unpatchify)(run.stream(), a);
  };
}

exec::KernelCall launchPatchify(LaunchContext& ctx, const Napi::Object& spec) {
  return launchPermute<true>(ctx, spec);
}

exec::KernelCall launchUnpatchify(LaunchContext& ctx, const Napi::Object& spec) {
  return launchPermute<false>(ctx, spec);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("patchify", launchPatchify);
VIT_REGISTER_KERNEL_LAUNCHER("unpatchify", launchUnpatchify);

}  // namespace vit::addon
