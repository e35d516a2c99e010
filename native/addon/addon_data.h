// Per-environment state of the addon (one per Node.js thread/worker that loads it).
#pragma once

#include <napi.h>

#include <cstdint>

namespace vit::addon {

struct AddonData {
  Napi::FunctionReference errorClass;   // Vit22bError from lib/runtime, once registered
  Napi::FunctionReference bufferClass;  // BufferHandle constructor, for instanceof checks
  Napi::FunctionReference planClass;    // PlanHandle constructor, for DeviceHandle.loadPlan
  Napi::FunctionReference deviceClass;  // DeviceHandle constructor, for MeshHandle's instanceof checks
  // Calls from JavaScript into the addon (every method, accessor and constructor; napiCalls()
  // itself excepted), so a test can prove a training step costs a constant number of crossings.
  uint64_t napiCalls = 0;
};

AddonData& addonData(Napi::Env env);

// Counts one call from JavaScript into the addon. `guard` calls it; entry points that do not use
// guard call it themselves.
inline void countEntry(Napi::Env env) { ++addonData(env).napiCalls; }

}  // namespace vit::addon
