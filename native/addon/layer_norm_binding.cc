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

exec::KernelCall launchLayerNormFwd(LaunchContext& ctx, const Napi::Object& spec) {
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
  Operand x = bufferProp(ctx, spec, k, "x", xBytes);
  Operand scale = bufferProp(ctx, spec, k, "scale", pBytes);
  Operand bias = optionalBufferProp(ctx, spec, k, "bias", pBytes);
  Operand y = bufferProp(ctx, spec, k, "y", xBytes);
  Operand mean = optionalBufferProp(ctx, spec, k, "mean", statBytes);
  Operand rstd = optionalBufferProp(ctx, spec, k, "rstd", statBytes);
  requireDistinct(k, "y", y, {x, scale, bias, mean, rstd});
  requireDistinct(k, "mean", mean, {x, scale, bias, rstd});
  requireDistinct(k, "rstd", rstd, {x, scale, bias});
  a.x = x.address;
  a.scale = scale.address;
  a.bias = bias.address;
  a.y = y.address;
  a.mean = static_cast<float*>(mean.address);
  a.rstd = static_cast<float*>(rstd.address);
  return [a](exec::RunContext& run) { run.kernels().layerNormFwd(run.stream(), a); };
}

exec::KernelCall launchLayerNormBwd(LaunchContext& ctx, const Napi::Object& spec) {
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
  Operand x = bufferProp(ctx, spec, k, "x", xBytes);
  Operand scale = bufferProp(ctx, spec, k, "scale", pBytes);
  // The mean is read only when centering; RMSNorm's forward saves none.
  Operand mean = a.center ? bufferProp(ctx, spec, k, "mean", statBytes) : Operand{};
  Operand rstd = bufferProp(ctx, spec, k, "rstd", statBytes);
  Operand dy = bufferProp(ctx, spec, k, "dy", xBytes);
  Operand dx = bufferProp(ctx, spec, k, "dx", xBytes);
  Operand dscale = bufferProp(ctx, spec, k, "dscale", gradBytes);
  Operand dbias = optionalBufferProp(ctx, spec, k, "dbias", gradBytes);
  requireDistinct(k, "dx", dx, {x, scale, mean, rstd, dy, dscale, dbias});
  requireDistinct(k, "dscale", dscale, {x, scale, mean, rstd, dy, dbias});
  requireDistinct(k, "dbias", dbias, {x, scale, mean, rstd, dy});
  a.x = x.address;
  a.scale = scale.address;
  a.mean = static_cast<const float*>(mean.address);
  a.rstd = static_cast<const float*>(rstd.address);
  a.dy = dy.address;
  a.dx = dx.address;
  a.dscale = static_cast<float*>(dscale.address);
  a.dbias = static_cast<float*>(dbias.address);
  return [a](exec::RunContext& run) { run.kernels().layerNormBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_fwd", launchLayerNormFwd);
VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_bwd", launchLayerNormBwd);

}  // namespace vit::addon
