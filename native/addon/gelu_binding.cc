// Launchers of gelu_fwd and gelu_bwd (kernels.h GeluFwdArgs / GeluBwdArgs).
//   gelu_fwd spec: { dtype, form: 'tanh' | 'erf', rows, cols, colBegin, colEnd, x, y }
//   gelu_bwd spec: { dtype, form, rows, cols, colBegin, colEnd, x, dy, dx }
// In place is allowed where training uses it (y may be x, dx may be dy): each element is read
// before it is written, by the same thread. dx may not be x: no caller needs it, and forbidding it
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

// Reads rows, cols and the column range; returns the bytes of one [rows, cols] operand.
int64_t readShape(const Napi::Object& spec, DType dtype, const char* kernel, int64_t* rows,
                  int64_t* cols, int64_t* c0, int64_t* c1) {
  *rows = countProp(spec, "rows");
  *cols = countProp(spec, "cols");
  *c0 = countProp(spec, "colBegin");
  *c1 = countProp(spec, "colEnd");
  if (*c0 > *c1 || *c1 > *cols) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " column range is out of bounds",
                "0 <= colBegin <= colEnd <= " + std::to_string(*cols),
                "[" + std::to_string(*c0) + ", " + std::to_string(*c1) + ")");
  }
  const int64_t elem = static_cast<int64_t>(dtypeSize(dtype));
  return elementCount(kernel, {*rows, *cols}, elem) * elem;
}

exec::KernelCall launchGeluFwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* k = "gelu_fwd";
  GeluFwdArgs a;
  a.dtype = dtypeProp(spec, k, "dtype");
  a.form = formProp(spec, k);
  const int64_t bytes = readShape(spec, a.dtype, k, &a.rows, &a.cols, &a.colBegin, &a.colEnd);
  Operand x = bufferProp(ctx, spec, k, "x", bytes);
  Operand y = bufferProp(ctx, spec, k, "y", bytes);
  a.x = x.address;
  a.y = y.address;
  return [a](exec::RunContext& run) { run.kernels().geluFwd(run.stream(), a); };
}

exec::KernelCall launchGeluBwd(LaunchContext& ctx, const Napi::Object& spec) {
  const char* k = "gelu_bwd";
  GeluBwdArgs a;
  a.dtype = dtypeProp(spec, k, "dtype");
  a.form = formProp(spec, k);
  const int64_t bytes = readShape(spec, a.dtype, k, &a.rows, &a.cols, &a.colBegin, &a.colEnd);
  Operand x = bufferProp(ctx, spec, k, "x", bytes);
  Operand dy = bufferProp(ctx, spec, k, "dy", bytes);
  Operand dx = bufferProp(ctx, spec, k, "dx", bytes);
  requireDistinct(k, "dx", dx, {x});
  a.x = x.address;
  a.dy = dy.address;
  a.dx = dx.address;
  return [a](exec::RunContext& run) { run.kernels().geluBwd(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("gelu_fwd", launchGeluFwd);
VIT_REGISTER_KERNEL_LAUNCHER("gelu_bwd", launchGeluBwd);

}  // namespace vit::addon
