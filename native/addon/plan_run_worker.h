// One step of a loaded plan on a libuv worker thread: the JavaScript thread stays free while the
// device works, and the step's promise settles on the JavaScript thread when it is done.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "addon/device_state.h"
#include "core/status.h"
#include "exec/loaded_plan.h"

namespace vit::addon {

class PlanRunWorker final : public Napi::AsyncWorker {
 public:
  // Takes copies of the inputs (the caller may reuse its arrays at once) and allocates the output
  // ArrayBuffers, which the worker fills in place. The device must already be marked busy; the
  // worker clears the mark when it settles the promise.
  PlanRunWorker(Napi::Env env, Napi::Promise::Deferred deferred, Napi::Object planObject,
                std::shared_ptr<DeviceState> state, std::shared_ptr<const exec::LoadedPlan> plan,
                std::vector<std::vector<uint8_t>> inputs, std::vector<double> scalars);

 protected:
  void Execute() override;  // worker thread: no JavaScript values here
  void OnOK() override;     // JavaScript thread
  void OnError(const Napi::Error& error) override;

 private:
  void settle(const Napi::Value* rejection);

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference planRef_;  // keeps the PlanHandle, its arena and slot buffers alive
  std::shared_ptr<DeviceState> state_;
  std::shared_ptr<const exec::LoadedPlan> plan_;
  std::vector<std::vector<uint8_t>> inputs_;
  std::vector<double> scalars_;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> outputRefs_;
  std::vector<void*> outputData_;
  std::optional<Error> error_;
};

}  // namespace vit::addon
