// launch('pos_embed_add', { dtype, posDtype, b, t, d, x, pos }) and launch('pos_embed_bwd',
// { dtype, posDtype, b, t, d, dx, dpos, dxRowStride? }): native/kernels.h PosEmbedAddArgs /
// PosEmbedBwdArgs. dxRowStride (elements between consecutive (b, t) rows of dx; absent or 0 = d,
// otherwise >= d) makes dx span (b * t - 1) * dxRowStride + d elements.
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchPosEmbedAdd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "pos_embed_add";
  PosEmbedAddArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.posDtype = dtypeProp(spec, op, "posDtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  Operand x = bufferProp(ctx, spec, op, "x", {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  Operand pos = bufferProp(ctx, spec, op, "pos", {elementCount(op, {a.t, a.d}), a.posDtype});
  requireDistinct(op, "x", x, {pos});
  a.x = x.address;
  a.pos = pos.address;
  return [a](exec::RunContext& run) { run.kernels().posEmbedAdd(run.stream(), a); };
}

exec::KernelCall launchPosEmbedBwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "pos_embed_bwd";
  PosEmbedBwdArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.posDtype = dtypeProp(spec, op, "posDtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  a.dxRowStride = hasProp(spec, "dxRowStride") ? countProp(spec, "dxRowStride") : 0;
  if (a.dxRowStride != 0 && a.dxRowStride < a.d) {
    throw Error(ErrorCode::InvalidArgument,
                "pos_embed_bwd dxRowStride must be 0 (dense) or at least d",
                "0 or >= " + std::to_string(a.d), std::to_string(a.dxRowStride));
  }
  int64_t dxElements = elementCount(op, {a.b, a.t, a.d}, static_cast<int64_t>(dtypeSize(a.dtype)));
  if (a.dxRowStride != 0 && dxElements > 0) {
    const Footprint f{op, "operand dx",
                      "b " + std::to_string(a.b) + ", t " + std::to_string(a.t) + ", d " +
                          std::to_string(a.d) + ", dxRowStride " + std::to_string(a.dxRowStride)};
    dxElements = f.add(f.mul(f.mul(a.b, a.t) - 1, a.dxRowStride), a.d);
    checkedBytes(op, "dx", dxElements, static_cast<int64_t>(dtypeSize(a.dtype)));
  }
  Operand dx = bufferProp(ctx, spec, op, "dx", {dxElements, a.dtype});
  Operand dpos = bufferProp(ctx, spec, op, "dpos", {elementCount(op, {a.t, a.d}), a.posDtype});
  requireDistinct(op, "dpos", dpos, {dx});
  a.dx = dx.address;
  a.dpos = dpos.address;
  return [a](exec::RunContext& run) { run.kernels().posEmbedBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("pos_embed_add", launchPosEmbedAdd);
VIT_REGISTER_KERNEL_LAUNCHER("pos_embed_bwd", launchPosEmbedBwd);

}  // namespace vit::addon
