// launch('strided_copy', { dtype, batch, cols, x, xStride, y, yStride }): native/kernels.h
// StridedCopyArgs (strides in elements). x must hold (batch - 1) * xStride + cols elements, y
// likewise; the runs of y may not overlap each other (yStride >= cols) and y may not overlap x.
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

// Elements a strided operand spans: (batch - 1) * stride + cols, overflow-checked.
int64_t spanElements(const Footprint& f, int64_t batch, int64_t stride, int64_t cols) {
  if (batch == 0 || cols == 0) return 0;
  return f.add(f.mul(batch - 1, stride), cols);
}

exec::KernelCall launchStridedCopy(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "strided_copy";
  StridedCopyArgs a;
  a.dtype = dtypeProp(spec, op, "dtype", {DType::F32, DType::BF16, DType::I32});
  a.batch = countProp(spec, "batch");
  a.cols = countProp(spec, "cols");
  a.xStride = countProp(spec, "xStride");
  a.yStride = countProp(spec, "yStride");
  const std::string shape = "batch " + std::to_string(a.batch) + ", cols " + std::to_string(a.cols) +
                            ", strides " + std::to_string(a.xStride) + "/" + std::to_string(a.yStride);
  if (a.batch > 1 && a.cols > 0 && a.yStride < a.cols) {
    throw Error(ErrorCode::InvalidArgument, "strided_copy runs of y would overlap each other",
                "yStride >= cols (" + std::to_string(a.cols) + ")", std::to_string(a.yStride));
  }
  const Footprint f{op, "operand", shape};
  Operand x = bufferProp(ctx, spec, op, "x", {spanElements(f, a.batch, a.xStride, a.cols), a.dtype});
  Operand y = bufferProp(ctx, spec, op, "y", {spanElements(f, a.batch, a.yStride, a.cols), a.dtype});
  requireDistinct(op, "y", y, {x});
  a.x = x.address;
  a.y = y.address;
  return [a](exec::RunContext& run) { run.kernels().stridedCopy(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("strided_copy", launchStridedCopy);

}  // namespace vit::addon
