// launch('mean_pool', { dtype, b, t, d, x, y }) and launch('mean_pool_bwd', { dtype, b, t, d, dy,
// dx }): native/kernels.h MeanPoolArgs / MeanPoolBwdArgs.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchMeanPool(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "mean_pool";
  MeanPoolArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool needs at least one token", "t >= 1", "0");
  BufferHandle* x = bufferProp(env, spec, op, "x", device, {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  BufferHandle* y = bufferProp(env, spec, op, "y", device, {elementCount(op, {a.b, a.d}), a.dtype});
  requireDistinct(op, "y", y, {x});
  a.x = x->data("read");
  a.y = y->data("write");
  device->backend->kernels().meanPool(device->backend->stream(), a);
}

void launchMeanPoolBwd(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "mean_pool_bwd";
  MeanPoolBwdArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.b = countProp(spec, "b");
  a.t = countProp(spec, "t");
  a.d = countProp(spec, "d");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool_bwd needs at least one token", "t >= 1", "0");
  BufferHandle* dy = bufferProp(env, spec, op, "dy", device, {elementCount(op, {a.b, a.d}), a.dtype});
  BufferHandle* dx = bufferProp(env, spec, op, "dx", device, {elementCount(op, {a.b, a.t, a.d}), a.dtype});
  requireDistinct(op, "dx", dx, {dy});
  a.dy = dy->data("read");
  a.dx = dx->data("write");
  device->backend->kernels().meanPoolBwd(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("mean_pool", launchMeanPool);
VIT_REGISTER_KERNEL_LAUNCHER("mean_pool_bwd", launchMeanPoolBwd);

}  // namespace vit::addon
