#include "addon/plan_arena.h"

namespace vit::addon {

PlanArena::PlanArena(std::shared_ptr<DeviceState> state, uint64_t bytes)
    : state_(std::move(state)), bytes_(bytes) {
  ptr_ = state_->backend->allocate(static_cast<size_t>(bytes));
  state_->liveBuffers += 1;
  state_->addLiveBytes(static_cast<int64_t>(bytes_));
}

PlanArena::~PlanArena() {
  state_->backend->release(ptr_);
  state_->liveBuffers -= 1;
  state_->liveBytes -= static_cast<int64_t>(bytes_);
  if (fromGc_) state_->reclaimedByGc += 1;
}

}  // namespace vit::addon
