// Launchers of layer_norm_fwd and layer_norm_bwd (kernels.h LayerNormFwdArgs / LayerNormBwdArgs).
//   layer_norm_fwd spec: { dtype, paramType, rows, dim, eps, center, x, scale, bias?, y, mean?, rstd?,
//                          xLayout?, yLayout? }
//   layer_norm_bwd spec: { dtype, paramType, rows, dim, center, x, scale, mean (center only), rstd,
//                          dy, dx, dscale, dbias?, dresidual?, xLayout?, dyLayout?, dxLayout?,
//                          dresidualLayout? }
// A layout is { groupRows, groupStride } (kernels.h RowLayout); absent or null is dense. Each
// [rows, dim] operand must hold its layout's element extent from its first element.
// Outputs may not alias any other operand: a row's statistics are taken before it is written, but
// mean/rstd/dscale are written by other threads than the rows they describe. The one exception is
// dx == dresidual (the same address and layout): every element of dx is computed from the same
// element of dresidual by the thread that writes it.
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

std::string layoutText(const RowLayout& l) {
  return "{ groupRows: " + std::to_string(l.groupRows) + ", groupStride: " +
         std::to_string(l.groupStride) + " }";
}

// spec[name] as the RowLayout of a [rows, dim] operand: absent or null is dense. Checked:
// groupRows divides rows and groups never overlap (groupStride >= groupRows * dim).
RowLayout layoutProp(const Napi::Object& spec, const std::string& k, const char* name,
                     int64_t rows, int64_t dim) {
  RowLayout l;
  if (!hasProp(spec, name)) return l;
  Napi::Value v = spec.Get(name);
  if (!v.IsObject() || v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, k + " " + name + " must be { groupRows, groupStride }",
                "{ groupRows, groupStride }", jsTypeName(v));
  }
  Napi::Object o = v.As<Napi::Object>();
  l.groupRows = countProp(o, "groupRows");
  if (l.groupRows == 0) return l;  // dense; groupStride is not read
  l.groupStride = countProp(o, "groupStride");
  if (rows % l.groupRows != 0) {
    throw Error(ErrorCode::InvalidArgument,
                k + " " + name + ".groupRows must divide rows (" + std::to_string(rows) + ")",
                "groupRows dividing " + std::to_string(rows), std::to_string(l.groupRows));
  }
  int64_t groupElements;
  if (__builtin_mul_overflow(l.groupRows, dim, &groupElements) || l.groupStride < groupElements) {
    throw Error(ErrorCode::InvalidArgument,
                k + " " + name + ".groupStride must be at least groupRows * dim (groups may not overlap)",
                ">= " + std::to_string(l.groupRows) + " * " + std::to_string(dim),
                std::to_string(l.groupStride));
  }
  return l;
}

// The bytes a [rows, dim] operand of elem-byte elements spans under layout l (kernels.h RowLayout):
// dense rows * dim elements; grouped (rows / groupRows - 1) * groupStride + groupRows * dim.
int64_t layoutBytes(const std::string& k, const char* name, const RowLayout& l, int64_t rows,
                    int64_t dim, int64_t elem) {
  if (l.groupRows == 0) return elementCount(k, {rows, dim}, elem) * elem;
  if (rows == 0) return 0;
  const Footprint f{k, std::string(name) + " layout",
                    "rows " + std::to_string(rows) + ", dim " + std::to_string(dim) + ", " +
                        layoutText(l)};
  const int64_t elements =
      f.add(f.mul(rows / l.groupRows - 1, l.groupStride), f.mul(l.groupRows, dim));
  return f.mul(elements, elem);
}

bool sameLayout(const RowLayout& a, const RowLayout& b) {
  return a.groupRows == b.groupRows && (a.groupRows == 0 || a.groupStride == b.groupStride);
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
  a.xLayout = layoutProp(spec, k, "xLayout", a.rows, a.dim);
  a.yLayout = layoutProp(spec, k, "yLayout", a.rows, a.dim);
  const int64_t pBytes = elementCount(k, {1, a.dim}, pElem) * pElem;
  const int64_t statBytes = elementCount(k, {1, a.rows}, 4) * 4;
  Operand x = bufferProp(ctx, spec, k, "x", layoutBytes(k, "x", a.xLayout, a.rows, a.dim, elem));
  Operand scale = bufferProp(ctx, spec, k, "scale", pBytes);
  Operand bias = optionalBufferProp(ctx, spec, k, "bias", pBytes);
  Operand y = bufferProp(ctx, spec, k, "y", layoutBytes(k, "y", a.yLayout, a.rows, a.dim, elem));
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
  a.xLayout = layoutProp(spec, k, "xLayout", a.rows, a.dim);
  a.dyLayout = layoutProp(spec, k, "dyLayout", a.rows, a.dim);
  a.dxLayout = layoutProp(spec, k, "dxLayout", a.rows, a.dim);
  a.dresidualLayout = layoutProp(spec, k, "dresidualLayout", a.rows, a.dim);
  const int64_t pBytes = elementCount(k, {1, a.dim}, pElem) * pElem;
  const int64_t gradBytes = elementCount(k, {1, a.dim}, 4) * 4;
  const int64_t statBytes = elementCount(k, {1, a.rows}, 4) * 4;
  Operand x = bufferProp(ctx, spec, k, "x", layoutBytes(k, "x", a.xLayout, a.rows, a.dim, elem));
  Operand scale = bufferProp(ctx, spec, k, "scale", pBytes);
  // The mean is read only when centering; RMSNorm's forward saves none.
  Operand mean = a.center ? bufferProp(ctx, spec, k, "mean", statBytes) : Operand{};
  Operand rstd = bufferProp(ctx, spec, k, "rstd", statBytes);
  Operand dy = bufferProp(ctx, spec, k, "dy", layoutBytes(k, "dy", a.dyLayout, a.rows, a.dim, elem));
  Operand dx = bufferProp(ctx, spec, k, "dx", layoutBytes(k, "dx", a.dxLayout, a.rows, a.dim, elem));
  Operand dres = optionalBufferProp(
      ctx, spec, k, "dresidual",
      layoutBytes(k, "dresidual", a.dresidualLayout, a.rows, a.dim, elem));
  Operand dscale = bufferProp(ctx, spec, k, "dscale", gradBytes);
  Operand dbias = optionalBufferProp(ctx, spec, k, "dbias", gradBytes);
  // dx may be dresidual exactly (the same first element and layout); any other overlap between
  // them would read elements another row has already written.
  const bool inPlace = dres && dres.address == dx.address && sameLayout(a.dresidualLayout, a.dxLayout);
  requireDistinct(k, "dx", dx, {x, scale, mean, rstd, dy, dscale, dbias});
  if (!inPlace) {
    requireDistinct(k, "dx", dx, {dres},
                    "distinct buffers, or dx == dresidual with the same layout");
  }
  requireDistinct(k, "dscale", dscale, {x, scale, mean, rstd, dy, dbias, dres});
  requireDistinct(k, "dbias", dbias, {x, scale, mean, rstd, dy, dres});
  a.x = x.address;
  a.scale = scale.address;
  a.mean = static_cast<const float*>(mean.address);
  a.rstd = static_cast<const float*>(rstd.address);
  a.dy = dy.address;
  a.dx = dx.address;
  a.dresidual = dres.address;
  a.dscale = static_cast<float*>(dscale.address);
  a.dbias = static_cast<float*>(dbias.address);
  return [a](exec::RunContext& run) { run.kernels().layerNormBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_fwd", launchLayerNormFwd);
VIT_REGISTER_KERNEL_LAUNCHER("layer_norm_bwd", launchLayerNormBwd);

}  // namespace vit::addon
