// Operands of plan instructions: PlanViews { slot, offset, bytes } resolved against the plan's
// slots (plan-format.ts). The launchers see the same Operand values as for BufferHandles.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "addon/launch_context.h"
#include "exec/plan_layout.h"
#include "exec/slot_table.h"

namespace vit::addon {

// `v` as a PlanView: ERR_INVALID_PLAN naming `field` unless it is an object whose slot, offset and
// bytes are integers in [0, 2^64). (Whether the view fits its slot is SlotTable's check.)
exec::ViewRef planViewValue(const Napi::Value& v, const std::string& field);

class PlanOperands final : public LaunchContext {
 public:
  PlanOperands(Napi::Env env, std::shared_ptr<DeviceState> device, const exec::SlotTable& slots,
               uint64_t runScalars)
      : LaunchContext(env, std::move(device)), slots_(slots), runScalars_(runScalars) {}

  // ERR_INVALID_PLAN "spec.<name>: ..." for a malformed view or one outside its slot.
  Operand resolve(const Napi::Value& value, const std::string& kernel,
                  const std::string& name) override;
  bool acceptsDynamicScalars() const override { return true; }
  uint64_t runScalarCount() const override { return runScalars_; }
  void noteDynamicScalar(const exec::DynamicScalar& scalar) override { noted_.push_back(scalar); }
  // The scalars noted since the last call (one instruction's).
  std::vector<exec::DynamicScalar> takeNoted() { return std::move(noted_); }

 private:
  // The extra bytes of a rank-relative view on this device (0 for a plain view).
  uint64_t rankOffset(const Napi::Value& value, const std::string& field) const;
  std::vector<exec::DynamicScalar> noted_;
  const exec::SlotTable& slots_;
  uint64_t runScalars_;
};

}  // namespace vit::addon
