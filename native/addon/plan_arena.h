// The activation memory of a loaded plan (slot 0): one allocation from the backend's allocator,
// counted in the device's statistics like a buffer, so stats() shows it and its release.
#pragma once

#include <cstdint>
#include <memory>

#include "addon/device_state.h"

namespace vit::addon {

class PlanArena {
 public:
  PlanArena(std::shared_ptr<DeviceState> state, uint64_t bytes);  // throws ERR_*_OOM
  ~PlanArena();
  PlanArena(const PlanArena&) = delete;
  PlanArena& operator=(const PlanArena&) = delete;

  void* data() const { return ptr_; }
  uint64_t bytes() const { return bytes_; }
  // Counts the release as a garbage-collector reclaim: the plan was never disposed.
  void markReclaimedByGc() { fromGc_ = true; }

 private:
  std::shared_ptr<DeviceState> state_;
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
  bool fromGc_ = false;
};

}  // namespace vit::addon
