// A scalar operand of a prepared call whose value may change between runs (plan-format.ts
// PlanScalar): fixed when the call was prepared, the i-th scalar of each run (learning rate, step),
// or an f32 read from device memory just before the kernel (a clip factor computed earlier in the
// same step). Every value is range-checked when it is known: fixed ones at preparation, the others
// at each run, where a bad value fails the run with a typed error instead of reaching the kernel.
#pragma once

#include <cstdint>
#include <string>

#include "exec/kernel_call.h"

namespace vit::exec {

// The values a scalar field accepts: [lo, hi] (or [lo, hi) with hiOpen), finite, and a whole
// number when `integer` (a step count).
struct ScalarRange {
  double lo = 0;
  double hi = 0;
  bool hiOpen = false;
  bool integer = false;
};

// ERR_INVALID_ARGUMENT "<kernel> <name> is out of range" with the range as `expected` and the value
// (shortest round-trip text) as `received`, unless `value` is inside `range`. `source` (may be
// empty) says where a dynamic value came from, for the message.
void checkScalarValue(const std::string& kernel, const std::string& name, double value,
                      const ScalarRange& range, const std::string& source = {});

// "%.17g" text of a double, for messages.
std::string numberText(double value);

class DynamicScalar {
 public:
  DynamicScalar() = default;  // fixed 0
  // A value known now: checked here.
  static DynamicScalar fixed(const std::string& kernel, const std::string& name, double value,
                             const ScalarRange& range);
  // run()'s scalars[index] (the index is checked by the caller against the plan's count).
  static DynamicScalar runScalar(const std::string& kernel, const std::string& name, uint32_t index,
                                 const ScalarRange& range);
  // The f32 at `deviceAddress`, read just before the kernel runs.
  static DynamicScalar deviceRead(const std::string& kernel, const std::string& name,
                                  const float* deviceAddress, const ScalarRange& range);

  bool isFixed() const { return kind_ == Kind::Fixed; }
  bool isRunScalar() const { return kind_ == Kind::RunScalar; }
  double fixedValue() const { return value_; }
  // The value for this run, range-checked (throws ERR_INVALID_ARGUMENT).
  double resolve(RunContext& run) const;

  // For kernel fields with a companion pointer (kernels.h "Dynamic scalar fields"). When
  // run.scalarsOnDevice(): a run scalar is range-checked on the host and `ptr` set to its device
  // copy; a {read} scalar sets `ptr` to the device value itself (no host round trip, and no range
  // check: the kernel reads whatever the earlier instruction wrote). Otherwise (the CPU, and
  // DeviceHandle.launch) `ptr` is nullptr and the value is resolve()'d as before. Returns the value
  // for the value field (0 when only the pointer is meaningful).
  float resolveF32(RunContext& run, const float*& ptr) const;
  // The same for an integer field (adamw step). A {read} scalar cannot be handed over as an i64
  // pointer (the memory holds an f32): it is read on the host (needsHostRead()).
  int64_t resolveI64(RunContext& run, const int64_t*& ptr) const;
  // True when resolving this scalar on a device-scalar backend still needs a synchronous read: a
  // {read} of an integer field. Such an instruction cannot be captured in a CUDA graph.
  bool needsHostRead() const { return kind_ == Kind::DeviceRead && range_.integer; }
  // Range check of a run scalar's value for this run (nothing for the other kinds): graph replays
  // do not invoke the prepared calls, so the plan checks its run scalars with this first.
  void checkRunValue(RunContext& run) const;

 private:
  enum class Kind { Fixed, RunScalar, DeviceRead };

  Kind kind_ = Kind::Fixed;
  double value_ = 0;
  uint32_t index_ = 0;
  const float* address_ = nullptr;
  std::string kernel_, name_;
  ScalarRange range_;
};

}  // namespace vit::exec
