#include "addon/operand_checks.h"

#include <cmath>

#include "addon/args.h"
#include "core/status.h"
#include "exec/plan_error.h"

namespace vit::addon {

using exec::numberText;

void throwFootprintOverflow(const std::string& kernel, const std::string& what,
                            const std::string& received) {
  throw Error(ErrorCode::ShapeMismatch, kernel + " " + what + " spans more than 2^63 bytes",
              "a footprint below 2^63 bytes", received);
}

int64_t checkedBytes(const std::string& kernel, const std::string& name, int64_t count,
                     int64_t elementBytes) {
  int64_t bytes;
  if (count < 0 || __builtin_mul_overflow(count, elementBytes, &bytes)) {
    throwFootprintOverflow(kernel, name,
                           std::to_string(count) + " elements of " + std::to_string(elementBytes) +
                               " bytes");
  }
  return bytes;
}

// elements are checked by elementsFor (spec_readers.h) to fit 2^63 bytes: no overflow.
Need::Need(int64_t elements, DType dtype)
    : bytes(static_cast<uint64_t>(elements) * dtypeSize(dtype)),
      note(" (" + std::to_string(elements) + " " + dtypeName(dtype) + ")") {}

Operand bufferOperand(LaunchContext& ctx, const Napi::Value& value, const std::string& kernel,
                      const std::string& name, const Need& need) {
  Operand o = ctx.resolve(value, kernel, name);
  if (need.bytes > o.bytes) {
    throw Error(ErrorCode::ShapeMismatch,
                kernel + " operand " + name + " is too small for the given shape",
                ">= " + std::to_string(need.bytes) + " bytes" + need.note,
                std::to_string(o.bytes) + " bytes");
  }
  return o;
}

bool hasProp(const Napi::Object& spec, const char* name) {
  Napi::Value v = spec.Get(name);
  return !v.IsUndefined() && !v.IsNull();
}

exec::DynamicScalar dynamicScalarProp(LaunchContext& ctx, const Napi::Object& spec,
                                      const std::string& kernel, const char* name,
                                      const exec::ScalarRange& range) {
  Napi::Value v = spec.Get(name);
  if (!ctx.acceptsDynamicScalars() || !v.IsObject()) {
    return exec::DynamicScalar::fixed(kernel, name, numberProp(spec, name), range);
  }
  Napi::Object o = v.As<Napi::Object>();
  const std::string field = kernel + " " + name;
  if (hasProp(o, "scalar")) {
    Napi::Value i = o.Get("scalar");
    double d = i.IsNumber() ? i.As<Napi::Number>().DoubleValue() : -1;
    uint64_t count = ctx.runScalarCount();
    if (!(d >= 0 && d < static_cast<double>(count) && std::floor(d) == d)) {
      exec::throwPlanError("spec." + std::string(name) + ".scalar",
                  field + " names a run scalar the plan does not have",
                  count == 0 ? "no { scalar } operands (the plan takes 0 scalars)"
                             : "{ scalar: i } with an integer i in [0, " + std::to_string(count) + ")",
                  i.IsNumber() ? numberText(d) : jsTypeName(i));
    }
    exec::DynamicScalar s = exec::DynamicScalar::runScalar(kernel, name, static_cast<uint32_t>(d), range);
    ctx.noteDynamicScalar(s);
    return s;
  }
  if (hasProp(o, "read")) {
    Operand at = bufferOperand(ctx, o.Get("read"), kernel, std::string(name) + ".read",
                               Need(1, DType::F32));
    exec::DynamicScalar s = exec::DynamicScalar::deviceRead(
        kernel, name, static_cast<const float*>(at.address), range);
    ctx.noteDynamicScalar(s);
    return s;
  }
  throw Error(ErrorCode::InvalidArgument, field + " must be a number, { scalar: i } or { read: view }",
              "number | { scalar } | { read }", "an object without scalar or read");
}

uint64_t u64Prop(const Napi::Object& spec, const std::string& kernel, const char* name) {
  Napi::Value v = spec.Get(name);
  if (v.IsBigInt()) {
    int sign = 0;
    size_t words = 1;
    uint64_t word = 0;
    v.As<Napi::BigInt>().ToWords(&sign, &words, &word);
    // ToWords reports the words needed; more than one means the value does not fit in 64 bits.
    if (sign != 0 || words > 1) {
      throw Error(ErrorCode::InvalidArgument, kernel + " " + name + " must be in [0, 2^64)",
                  "an integer in [0, 2^64)", v.ToString().Utf8Value());
    }
    return words == 0 ? 0 : word;
  }
  return static_cast<uint64_t>(countProp(spec, name));
}

void requireDistinct(const std::string& kernel, const char* outputName, const Operand& output,
                     std::initializer_list<Operand> inputs, const char* expected) {
  if (!output) return;
  for (const Operand& in : inputs) {
    if (overlaps(in, output)) {
      throw Error(ErrorCode::InvalidArgument,
                  kernel + " output " + outputName + " must not share a buffer with another operand",
                  expected, overlapText(output, in));
    }
  }
}

}  // namespace vit::addon
