// Operands and scalars of a kernel spec (DeviceHandle.launch(name, spec), or an instruction of a
// plan), for the generated launchers (addon/spec_readers.h has the rest of what they use). Buffers
// are resolved through the LaunchContext (BufferHandles or PlanViews) and checked large enough,
// dynamic scalars read in their three forms, 64-bit integers exact, outputs distinct from inputs.
// Each failure is a typed vit::Error that names the kernel and the field.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "addon/launch_context.h"
#include "core/dtype.h"
#include "exec/dynamic_scalar.h"

namespace vit::addon {

// ---- counts and sizes (ERR_SHAPE_MISMATCH, expected "a footprint below 2^63 bytes") ----

// [[noreturn]] the overflow error: "<kernel> <what> spans more than 2^63 bytes".
[[noreturn]] void throwFootprintOverflow(const std::string& kernel, const std::string& what,
                                         const std::string& received);

// count * elementBytes for operand `name`, checked to fit in 63 bits.
int64_t checkedBytes(const std::string& kernel, const std::string& name, int64_t count,
                     int64_t elementBytes);

// ---- buffers ----

// How much an operand must hold: a byte count, or `elements` of `dtype` (which the size error's
// expected text spells out: ">= 60 bytes (15 f32)").
struct Need {
  Need(int64_t bytes) : bytes(static_cast<uint64_t>(bytes)) {}  // NOLINT: implicit on purpose
  Need(int64_t elements, DType dtype);
  uint64_t bytes;
  std::string note;
};

// `value` resolved through `ctx` (its errors first: not a buffer or view, disposed, another device,
// a view outside its slot), then ERR_SHAPE_MISMATCH unless it holds `need` (expected ">= N bytes",
// received "M bytes"). `name` labels it in the errors.
Operand bufferOperand(LaunchContext& ctx, const Napi::Value& value, const std::string& kernel,
                      const std::string& name, const Need& need);
// Whether spec[name] is present (neither undefined nor null).
bool hasProp(const Napi::Object& spec, const char* name);

// ---- scalars ----

// A scalar that plans may vary per run (plan-format.ts PlanScalar): a number (checked now), or, when
// ctx accepts them, { scalar: i } with i below the plan's scalar count, or { read: view } of at
// least 4 bytes (an f32), both checked against `range` at each run. launch() gets
// ERR_INVALID_ARGUMENT for the object forms.
exec::DynamicScalar dynamicScalarProp(LaunchContext& ctx, const Napi::Object& spec,
                                      const std::string& kernel, const char* name,
                                      const exec::ScalarRange& range);

// A non-negative integer below 2^64: a safe-integer number or a BigInt (ERR_INVALID_ARGUMENT).
uint64_t u64Prop(const Napi::Object& spec, const std::string& kernel, const char* name);

// ---- aliasing ----

// ERR_INVALID_ARGUMENT (received "the same buffer", or the overlapping view ranges) when `output`
// overlaps one of `inputs`: kernels read inputs while writing outputs, so aliases would make
// results depend on the order of the work. Absent operands (an optional output or input) are
// skipped.
void requireDistinct(const std::string& kernel, const char* outputName, const Operand& output,
                     std::initializer_list<Operand> inputs,
                     const char* expected = "distinct buffers");

}  // namespace vit::addon
