// One step of a mesh: every rank's loaded plan at once, on threads of the mesh's own
// (comm::MeshRunner::runOnEveryRank: LocalMesh, or MpiMesh for one device of a multi-process mesh), waited for on one libuv worker. Settles one promise with every
// rank's outputs, or with the first real failure (comm/local_mesh.h).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "addon/device_state.h"
#include "comm/mesh_runner.h"
#include "core/status.h"
#include "exec/loaded_plan.h"

namespace vit::addon {

struct MeshRank {
  std::shared_ptr<DeviceState> state;
  std::shared_ptr<const exec::LoadedPlan> plan;
  std::vector<std::vector<uint8_t>> inputs;
  std::vector<double> scalars;
};

class MeshRunWorker final : public Napi::AsyncWorker {
 public:
  // Every device must already be marked busy; the worker clears the marks (and `running`) when it
  // settles the promise. `planObjects` keep the PlanHandles (arenas, slot buffers) alive.
  MeshRunWorker(Napi::Env env, Napi::Promise::Deferred deferred, std::vector<Napi::Object> planObjects,
                std::shared_ptr<comm::MeshRunner> mesh, std::vector<MeshRank> ranks, uint64_t step,
                std::shared_ptr<std::atomic<bool>> running);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void settle(const Napi::Value* rejection);

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> planRefs_;
  std::shared_ptr<comm::MeshRunner> mesh_;
  std::vector<MeshRank> ranks_;
  uint64_t step_;
  std::shared_ptr<std::atomic<bool>> running_;
  std::vector<std::vector<Napi::Reference<Napi::ArrayBuffer>>> outputRefs_;
  std::vector<std::vector<void*>> outputData_;
  std::optional<Error> error_;
};

}  // namespace vit::addon
