// A loaded plan as a JavaScript object (DeviceHandle.loadPlan): run(inputs, scalars) runs one step
// as ONE asynchronous N-API call; dispose() frees the arena. It holds references to its slot
// buffers, so they stay alive as long as the plan may run them; the GC finalizer frees a forgotten
// plan's arena as a backstop (counted in DeviceState::reclaimedByGc, like a forgotten buffer).
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "addon/buffer_handle.h"
#include "addon/device_state.h"
#include "addon/plan_arena.h"
#include "exec/loaded_plan.h"

namespace vit::addon {

// What plan_loader.cc builds and a PlanHandle adopts.
struct PlanParts {
  std::shared_ptr<DeviceState> state;
  std::unique_ptr<PlanArena> arena;
  std::shared_ptr<const exec::LoadedPlan> plan;
  std::vector<Napi::Object> slotObjects;  // slot i + 1's BufferHandle object
  std::vector<BufferHandle*> slots;
};

// A run's arguments, checked and copied on the JavaScript thread.
struct PreparedRun {
  std::vector<std::vector<uint8_t>> inputs;
  std::vector<double> scalars;
};

class PlanHandle : public Napi::ObjectWrap<PlanHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, PlanParts parts);

  explicit PlanHandle(const Napi::CallbackInfo& info);
  ~PlanHandle() override;

  // The checks run() makes before a step (a live plan on an idle device, the inputs' count and
  // sizes, the scalars, live slot buffers), throwing vit::Error; the inputs copied. MeshHandle.run
  // makes them for every rank's plan before any rank starts.
  PreparedRun prepareRun(Napi::Env env, const Napi::Value& inputs, const Napi::Value& scalars);
  // Null once disposed.
  const std::shared_ptr<DeviceState>& state() const { return state_; }
  const std::shared_ptr<const exec::LoadedPlan>& plan() const { return plan_; }

 private:
  Napi::Value run(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value getArenaBytes(const Napi::CallbackInfo& info);
  Napi::Value getDisposed(const Napi::CallbackInfo& info);
  Napi::Value getInstructions(const Napi::CallbackInfo& info);
  Napi::Value getExecution(const Napi::CallbackInfo& info);
  Napi::Value setProfiling(const Napi::CallbackInfo& info);
  Napi::Value profile(const Napi::CallbackInfo& info);

  // Starts a run (the checks of PlanHandle.run on the JavaScript thread, then the worker).
  void startRun(const Napi::CallbackInfo& info, Napi::Promise::Deferred deferred);

  std::shared_ptr<DeviceState> state_;  // null once disposed
  std::unique_ptr<PlanArena> arena_;
  std::shared_ptr<const exec::LoadedPlan> plan_;
  std::vector<Napi::ObjectReference> slotRefs_;
  std::vector<BufferHandle*> slots_;
  uint64_t arenaBytes_ = 0;
  size_t instructions_ = 0;
};

}  // namespace vit::addon
