// launch('cast', { from, to, n, x, y }): native/kernels.h CastArgs.
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchCast(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "cast";
  CastArgs a;
  a.from = dtypeProp(spec, op, "from", {DType::F32, DType::BF16});
  a.to = dtypeProp(spec, op, "to", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  int64_t n = elementCount(op, {a.n});
  BufferHandle* x = bufferProp(env, spec, op, "x", device, {n, a.from});
  BufferHandle* y = bufferProp(env, spec, op, "y", device, {n, a.to});
  requireDistinct(op, "y", y, {x});
  a.x = x->data("read");
  a.y = y->data("write");
  device->backend->kernels().cast(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("cast", launchCast);

}  // namespace vit::addon
