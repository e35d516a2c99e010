// Launchers of layer_norm_fwd and layer_norm_bwd (kernels.h LayerNormFwdArgs / LayerNormBwdArgs).
//   layer_norm_fwd spec: { dtype, paramType, rows, dim, eps, center, x, scale, bias?, y, mean?, rstd? }
//   layer_norm_bwd spec: { dtype, paramType, rows, dim, center, x, scale, mean (center only), rstd,
//                          dy, dx, dscale, dbias? }
// Outputs may not alias any other operand: a row's statistics are taken before it is written, but
// mean/rstd/dscale are written by other threads than the rows they describe.
#include <cmath>
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

float epsProp(const Napi::Object& spec) {
  double d = numberProp(spec, "eps");
  float eps = static_cast<float>(d);
  // Checked after the cast: 1e-50 is a positive double but a zero float.
  if (!(eps > 0.0f) || !std::isfinite(eps)) {
    throw Error(ErrorCode::InvalidArgument, "layer_norm_fwd eps must be a positive finite float",
                "eps > 0 and finite in f32", std::to_string(d));
  }
  return eps;
}

void launchLayerNormFwd(Napi::Env env, const Napi::Object& spec,
                        const std::shared_ptr<DeviceState>& device) {
  const char* k = "layer_norm_fwd";
  LayerNormFwdArgs a;
  a.dtype = dtypeProp(spec, k, "dtype");
  a.paramType = dtypeProp(spec, k, "paramType");
  a.rows = countProp(spec, "rows");
  a.dim = countProp(spec, "dim");
  a.eps = epsProp(spec);
  a.center = boolProp(spec, "center");
  const int64_t elem = static_cast<int64_t>(dtypeSize(a.dtype));
  const int64_t pElem = static_cast<int64_t>(dtypeSize(a.paramType));
  const int64_t xBytes = elementCount(k, {a.rows, a.dim}, elem) * elem;
  const int64_t pBytes = elementCount(k, {1, a.dim}, pElem) * pElem;
  const int64_t statBytes = elementCount(k, {1, a.rows}, 4) * 4;
  BufferHandle* x = bufferProp(env, spec, k, "x", device, xBytes);
  BufferHandle* scale = bufferProp(env, spec, k, "scale", device, pBytes);
  BufferHandle* bias = optionalBufferProp(env, spec, k, "bias", device, pBytes);
  BufferHandle* y = bufferProp(env, spec, k, "y", device, xBytes);
  BufferHandle* mean = optionalBufferProp(env, spec, k, "mean", device, statBytes);
  BufferHandle* rstd = optionalBufferProp(env, spec, k, "rstd", device, statBytes);
  requireDistinct(k, "y", y, {x, scale, bias, mean, rstd});
  requireDistinct(k, "mean", mean, {x, scale, bias, rstd});
  requireDistinct(k, "rstd", rstd, {x, scale, bias});
  a.x = x->data("read");
  a.scale = scale->data("read");
  a.bias = bias ? bias->data("read") : nullptr;
  a.y = y->data("write");
  a.mean = mean ? static_cast<float*>(mean->data("write")) : nullptr;
  a.rstd = rstd ? static_cast<float*>(rstd->data("write")) : nullptr;
  device->backend->kernels().layerNormFwd(device->backend->stream(), a);
}

void launchLayerNormBwd(Napi::Env env, const Napi::Object& spec,
                        const std::shared_ptr<DeviceState>& device) {
  const char* k = "layer_norm_bwd";
  LayerNormBwdArgs a;
  a.dtype = dtypeProp(spec, k, "dtype");
  a.paramType = dtypeProp(spec, k, "paramType");
  a.rows = countProp(spec, "rows");
  a.dim = countProp(spec, "dim");
  a.center = boolProp(spec, "center");
  const int64_t elem = static_cast<int64_t>(dtypeSize(a.dtype));
  const int64_t pElem = static_cast<int64_t>(dtypeSize(a.paramType));
  const int64_t xBytes = elementCount(k, {a.rows, a.dim}, elem) * elem;
  const int64_t pBytes = elementCount(k, {1, a.dim}, pElem) * pElem;
  const int64_t gradBytes = elementCount(k, {1, a.dim}, 4) * 4;
  const int64_t statBytes = elementCount(k, {1, a.rows}, 4) * 4;
  BufferHandle* x = bufferProp(env, spec, k, "x", device, xBytes);
  BufferHandle* scale = bufferProp(env, spec, k, "scale", device, pBytes);
  // The mean is read only when centering; RMSNorm's forward saves none.
  BufferHandle* mean = a.center ? bufferProp(env, spec, k, "mean", device, statBytes) : nullptr;
  BufferHandle* rstd = bufferProp(env, spec, k, "rstd", device, statBytes);
  BufferHandle* dy = bufferProp(env, spec, k, "dy", device, xBytes);
  BufferHandle* dx = bufferProp(env, spec, k, "dx", device, xBytes);
  BufferHandle* dscale = bufferProp(env, spec, k, "dscale", device, gradBytes);
  BufferHandle* dbias = optionalBufferProp(env, spec, k, "dbias", device, gradBytes);
  requireDistinct(k, "dx", dx, {x, scale, mean, rstd, dy, dscale, dbias});
  requireDistinct(k, "dscale", dscale, {x, scale, mean, rstd, dy, dbias});
  requireDistinct(k, "dbias", dbias, {x, scale, mean, rstd, dy});
  a.x = x->data("read");
  a.scale = scale->data("read");
  a.mean = mean ? static_cast<const float*>(mean->data("read")) : nullptr;
  a.rstd = static_cast<const float*>(rstd->data("read"));
  a.dy = dy->data("read");
  a.dx = dx->data("write");
  a.dscale = static_cast<float*>(dscale->data("write"));
  a.dbias = dbias ? static_cast<float*>(dbias->data("write")) : nullptr;
  device->backend->kernels().layerNormBwd(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_fwd", launchLayerNormFwd);
VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_bwd", launchLayerNormBwd);

}  // namespace vit::addon
