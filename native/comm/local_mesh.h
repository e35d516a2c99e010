// A data x model mesh of virtual devices in one process: its axis groups (local_communicator.h),
// each device's DeviceComms, and runOnEveryRank, which runs one body per rank on threads of its own
// and turns the ranks' failures into the one error a caller should see.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "comm/device_comms.h"
#include "comm/local_communicator.h"
#include "comm/mesh_runner.h"
#include "core/status.h"

namespace vit::comm {

class LocalMesh final : public MeshRunner {
 public:
  // data x model devices (each >= 1); every collective wait times out after `timeout`.
  LocalMesh(int data, int model, std::chrono::milliseconds timeout);

  int size() const override { return static_cast<int>(comms_.size()); }
  const std::shared_ptr<DeviceComms>& comms(int rank) const override { return comms_[static_cast<size_t>(rank)]; }

  // Wakes every waiter of every group (ERR_COLLECTIVE_ABORTED).
  void abort() override;
  // Clears aborts and half-finished rendezvous: only while no rank is inside a collective.
  void reset() override;

  // Runs body(rank) for every rank at once, each on a thread of its own, with `step` ("run 3") as
  // every device's step for messages. The first failure aborts the mesh, so the others stop at
  // their next collective instead of waiting out their deadline; all threads are joined before this
  // returns. Returns the first failure that is not a secondary ERR_COLLECTIVE_ABORTED (the first
  // aborted one if there is nothing else), its message prefixed with the rank and its coordinates.
  //
  // Threads are spawned per call rather than kept in a pool: a call is a whole plan step (or a test
  // launch), so a thread start (tens of microseconds) is noise, and nothing outlives the call, so
  // there is no shutdown to order against the addon's environment teardown. They are our own threads,
  // never libuv's 4 workers, so a mesh of any size runs all its ranks at once.
  std::optional<Error> runOnEveryRank(const std::string& step, const std::function<void(int)>& body) override;

 private:
  std::vector<std::shared_ptr<LocalGroup>> groups_;
  std::vector<std::shared_ptr<DeviceComms>> comms_;
};

}  // namespace vit::comm
