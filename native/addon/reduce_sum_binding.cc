// launch('reduce_sum', { dtype, n, squares, x, out }): native/kernels.h ReduceSumArgs; out is f32 [1].
#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void launchReduceSum(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
  const char* op = "reduce_sum";
  ReduceSumArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16});
  a.n = countProp(spec, "n");
  a.squares = boolProp(spec, "squares");
  BufferHandle* x = bufferProp(env, spec, op, "x", device, {elementCount(op, {a.n}), a.dtype});
  BufferHandle* out = bufferProp(env, spec, op, "out", device, {1, DType::F32});
  requireDistinct(op, "out", out, {x});
  a.x = x->data("read");
  a.out = static_cast<float*>(out->data("write"));
  device->backend->kernels().reduceSum(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("reduce_sum", launchReduceSum);

}  // namespace vit::addon
