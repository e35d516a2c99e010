// Launchers of gelu_fwd and gelu_bwd (kernels.h GeluFwdArgs / GeluBwdArgs).
//   gelu_fwd spec: { dtype, form: 'tanh' | 'erf', rows, cols, colBegin, colEnd, x, y,
//                    xStride?, yStride?, bias?, biasType? }
//   gelu_bwd spec: { dtype, form, rows, cols, colBegin, colEnd, x, dy, dx,
//                    xStride?, dyStride?, dxStride?, bias?, biasType? }
// Strides are in elements, 0 or absent = cols (dense), otherwise >= cols; each strided operand must
// hold (rows - 1) * stride + cols elements. bias: [colEnd - colBegin] elements of biasType
// ('f32' | 'bf16', required with bias), added inside the column range before the GELU.
// In place is allowed where training uses it (y may be x, dx may be dy) with the same start and
// equal strides: each element is read before it is written, by the same thread. Any other overlap
// of an output with an input is refused. dx may not be x: no caller needs it, and forbidding it
// leaves the GPU kernel free to read x ahead of writing dx.
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

GeluForm formProp(const Napi::Object& spec, const char* kernel) {
  std::string form = stringProp(spec, "form");
  if (form == "tanh") return GeluForm::Tanh;
  if (form == "erf") return GeluForm::Erf;
  throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " form must be 'tanh' or 'erf'",
              "tanh | erf", form);
}

struct Shape {
  int64_t rows = 0, cols = 0, c0 = 0, c1 = 0;
};

// Reads rows, cols and the column range.
Shape readShape(const Napi::Object& spec, const char* kernel) {
  Shape s;
  s.rows = countProp(spec, "rows");
  s.cols = countProp(spec, "cols");
  s.c0 = countProp(spec, "colBegin");
  s.c1 = countProp(spec, "colEnd");
  if (s.c0 > s.c1 || s.c1 > s.cols) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " column range is out of bounds",
                "0 <= colBegin <= colEnd <= " + std::to_string(s.cols),
                "[" + std::to_string(s.c0) + ", " + std::to_string(s.c1) + ")");
  }
  return s;
}

// spec[name] as a row stride in elements: absent = 0 (dense), otherwise 0 or >= cols.
int64_t strideProp(const Napi::Object& spec, const char* kernel, const char* name, int64_t cols) {
  if (!hasProp(spec, name)) return 0;
  const int64_t stride = countProp(spec, name);
  if (stride != 0 && stride < cols) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(kernel) + " " + name + " must be 0 (dense) or at least cols",
                "0 or >= " + std::to_string(cols), std::to_string(stride));
  }
  return stride;
}

// The bytes a [rows, cols] operand with this row stride spans: (rows - 1) * stride + cols elements
// (stride 0 = cols), overflow-checked.
int64_t operandBytes(const char* kernel, const char* name, const Shape& s, int64_t stride,
                     DType dtype) {
  const int64_t elem = static_cast<int64_t>(dtypeSize(dtype));
  if (stride == 0) return elementCount(kernel, {s.rows, s.cols}, elem) * elem;
  if (s.rows == 0 || s.cols == 0) return 0;
  const Footprint f{kernel, std::string("operand ") + name,
                    "rows " + std::to_string(s.rows) + ", cols " + std::to_string(s.cols) +
                        ", stride " + std::to_string(stride)};
  return checkedBytes(kernel, name, f.add(f.mul(s.rows - 1, stride), s.cols), elem);
}

// The optional bias: [colEnd - colBegin] of biasType, which is required with it.
Operand biasProp(LaunchContext& ctx, const Napi::Object& spec, const char* kernel, const Shape& s,
                 DType* biasType) {
  const bool has = hasProp(spec, "bias");
  if (has && !hasProp(spec, "biasType")) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " bias needs a biasType",
                "biasType 'f32' or 'bf16'", "undefined");
  }
  *biasType = hasProp(spec, "biasType") ? dtypeProp(spec, kernel, "biasType") : DType::F32;
  return optionalBufferProp(ctx, spec, kernel, "bias", {s.c1 - s.c0, *biasType});
}

// In place (output and input at the same start with the same effective stride), or no overlap.
void requireInPlaceOrDistinct(const char* kernel, const char* outName, const Operand& out,
                              int64_t outStride, const char* inName, const Operand& in,
                              int64_t inStride, int64_t cols) {
  if (!overlaps(out, in)) return;
  const int64_t os = outStride == 0 ? cols : outStride, is = inStride == 0 ? cols : inStride;
  if (out.address == in.address && os == is) return;
  throw Error(ErrorCode::InvalidArgument,
              std::string(kernel) + " output " + outName + " overlaps " + inName +
                  " without being it (in place needs the same start and stride)",
              "distinct, or the same start and stride",
              overlapText(out, in) + ", strides " + std::to_string(os) + "/" + std::to_string(is));
}

// The fields both directions share: storage type, form, rows, cols and the column range.
template <typename Args>
Shape readCommon(const Napi::Object& spec, const char* k, Args* a) {
  a->dtype = dtypeProp(spec, k, "dtype");
  a->form = formProp(spec, k);
  const Shape s = readShape(spec, k);
  a->rows = s.rows;
  a->cols = s.cols;
  a->colBegin = s.c0;
  a->colEnd = s.c1;
  return s;
}

exec::KernelCall launchGeluFwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* k = "gelu_fwd";
  GeluFwdArgs a;
  const Shape s = readCommon(spec, k, &a);
  a.xStride = strideProp(spec, k, "xStride", s.cols);
  a.yStride = strideProp(spec, k, "yStride", s.cols);
  Operand x = bufferProp(ctx, spec, k, "x", operandBytes(k, "x", s, a.xStride, a.dtype));
  Operand y = bufferProp(ctx, spec, k, "y", operandBytes(k, "y", s, a.yStride, a.dtype));
  Operand bias = biasProp(ctx, spec, k, s, &a.biasType);
  requireInPlaceOrDistinct(k, "y", y, a.yStride, "x", x, a.xStride, s.cols);
  requireDistinct(k, "y", y, {bias});
  a.x = x.address;
  a.y = y.address;
  a.bias = bias ? bias.address : nullptr;
  return [a](exec::RunContext& run) { run.kernels().geluFwd(run.stream(), a); };
}

exec::KernelCall launchGeluBwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* k = "gelu_bwd";
  GeluBwdArgs a;
  const Shape s = readCommon(spec, k, &a);
  a.xStride = strideProp(spec, k, "xStride", s.cols);
  a.dyStride = strideProp(spec, k, "dyStride", s.cols);
  a.dxStride = strideProp(spec, k, "dxStride", s.cols);
  Operand x = bufferProp(ctx, spec, k, "x", operandBytes(k, "x", s, a.xStride, a.dtype));
  Operand dy = bufferProp(ctx, spec, k, "dy", operandBytes(k, "dy", s, a.dyStride, a.dtype));
  Operand dx = bufferProp(ctx, spec, k, "dx", operandBytes(k, "dx", s, a.dxStride, a.dtype));
  Operand bias = biasProp(ctx, spec, k, s, &a.biasType);
  requireDistinct(k, "dx", dx, {x, bias});
  requireInPlaceOrDistinct(k, "dx", dx, a.dxStride, "dy", dy, a.dyStride, s.cols);
  a.x = x.address;
  a.dy = dy.address;
  a.dx = dx.address;
  a.bias = bias ? bias.address : nullptr;
  return [a](exec::RunContext& run) { run.kernels().geluBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("gelu_fwd", launchGeluFwd);
VIT_REGISTER_KERNEL_LAUNCHER("gelu_bwd", launchGeluBwd);

}  // namespace vit::addon
