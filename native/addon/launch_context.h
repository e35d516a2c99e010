// Where a launcher's buffer operands come from. The same launcher code (generated from lib/kernels/<kernel>.ts)
// prepares a kernel call for DeviceHandle.launch, whose specs name BufferHandles, and for a plan,
// whose specs name PlanViews { slot, offset, bytes }; a LaunchContext turns either into an Operand.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "addon/device_state.h"
#include "exec/dynamic_scalar.h"

namespace vit::addon {

// A resolved buffer operand: the memory a kernel may touch through it, and for aliasing checks the
// allocation it lies in. `present` is false for an absent optional operand.
struct Operand {
  bool present = false;
  void* address = nullptr;     // first byte
  uint64_t bytes = 0;          // bytes the operand spans (a whole buffer, or a view)
  const void* base = nullptr;  // the allocation: equal bases are the same memory
  uint64_t offset = 0;         // address - base
  int64_t slot = -1;           // the plan slot of a view; -1 for a BufferHandle

  explicit operator bool() const { return present; }
  bool isView() const { return slot >= 0; }
};

// Whether two operands share memory. A BufferHandle operand stands for its whole buffer (even one
// of zero bytes), so passing one buffer twice always aliases; views alias when their byte ranges
// overlap, whichever slots they were named through.
bool overlaps(const Operand& a, const Operand& b);
// "the same buffer", or "overlapping views (slot 0 [64, 128) and slot 0 [96, 160))".
std::string overlapText(const Operand& a, const Operand& b);

class LaunchContext {
 public:
  LaunchContext(Napi::Env env, std::shared_ptr<DeviceState> device)
      : env_(env), device_(std::move(device)) {}
  virtual ~LaunchContext() = default;

  Napi::Env env() const { return env_; }
  const std::shared_ptr<DeviceState>& device() const { return device_; }

  // The operand `value` names, with the source's own checks: a live BufferHandle of this device
  // (ERR_INVALID_ARGUMENT, ERR_DISPOSED, ERR_DEVICE_MISMATCH), or a PlanView inside its slot
  // (ERR_INVALID_PLAN). Sizes are checked by operand_checks.h.
  virtual Operand resolve(const Napi::Value& value, const std::string& kernel,
                          const std::string& name) = 0;

  // Plans may give the documented dynamic scalars as { scalar: i } (i < runScalarCount()) or
  // { read: view }; launch() takes numbers only.
  virtual bool acceptsDynamicScalars() const { return false; }
  virtual uint64_t runScalarCount() const { return 0; }

  // Plans: every dynamic (non-fixed) scalar a launcher prepares is noted here (operand_checks.cc
  // dynamicScalarProp), so the plan can range-check run scalars before a graph replay, and knows
  // which instructions still need a synchronous host read.
  virtual void noteDynamicScalar(const exec::DynamicScalar& scalar) {}

 private:
  Napi::Env env_;
  std::shared_ptr<DeviceState> device_;
};

// DeviceHandle.launch: operands are BufferHandles.
class BufferOperands final : public LaunchContext {
 public:
  using LaunchContext::LaunchContext;
  Operand resolve(const Napi::Value& value, const std::string& kernel,
                  const std::string& name) override;
};

}  // namespace vit::addon
