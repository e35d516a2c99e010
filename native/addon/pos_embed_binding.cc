// launch('pos_embed_add', { dtype, posDtype, b, t, d, x, pos }) and launch('pos_embed_bwd',
// { dtype, posDtype, b, t, d, dx, dpos }): native/kernels.h PosEmbedAddArgs / PosEmbedBwdArgs.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchPosEmbedAdd(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "pos_embed_add";
  PosEmbedAddArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.posDtype = dtypeProp(spec, op, "posDtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  BufferHandle* x = bufferProp(env, spec, op, "x", device, {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  BufferHandle* pos = bufferProp(env, spec, op, "pos", device, {elementCount(op, {a.t, a.d}), a.posDtype});
  requireDistinct(op, "x", x, {pos});
  a.x = x->data("write");
  a.pos = pos->data("read");
  device->backend->kernels().posEmbedAdd(device->backend->stream(), a);
}

void launchPosEmbedBwd(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "pos_embed_bwd";
  PosEmbedBwdArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.posDtype = dtypeProp(spec, op, "posDtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  BufferHandle* dx = bufferProp(env, spec, op, "dx", device, {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  BufferHandle* dpos = bufferProp(env, spec, op, "dpos", device, {elementCount(op, {a.t, a.d}), a.posDtype});
  requireDistinct(op, "dpos", dpos, {dx});
  a.dx = dx->data("read");
  a.dpos = dpos->data("write");
  device->backend->kernels().posEmbedBwd(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("pos_embed_add", launchPosEmbedAdd);
VIT_REGISTER_KERNEL_LAUNCHER("pos_embed_bwd", launchPosEmbedBwd);

}  // namespace vit::addon
