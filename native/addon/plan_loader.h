// DeviceHandle.loadPlan(plan, slots): reads a NativePlan (lib/runtime/plan-format.ts) from its
// JavaScript object, validates it whole, allocates its arena and prepares every instruction
// through the kernel launchers, so a run does no parsing and no checking beyond its own arguments.
#pragma once

#include <napi.h>

#include <memory>

#include "addon/device_state.h"

namespace vit::addon {

// Returns a PlanHandle. Throws ERR_INVALID_PLAN (version, fields, slot count and sizes, views
// outside their slots, events, deadlocks, unknown kernels: the message names the stream,
// instruction, note and field), the launchers' own codes for bad kernel specs (the message
// prefixed with the instruction's location), and ERR_INVALID_ARGUMENT / ERR_DISPOSED /
// ERR_DEVICE_MISMATCH for slot buffers that are not live buffers of this device.
Napi::Object loadPlan(Napi::Env env, const std::shared_ptr<DeviceState>& device,
                      const Napi::Value& planValue, const Napi::Value& slotsValue);

}  // namespace vit::addon
