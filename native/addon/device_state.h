// What a DeviceHandle and its BufferHandles share: the backend and the memory accounting.
// Buffers hold a shared_ptr to it, so a device's memory can always be released, even after the
// device handle itself was disposed or collected.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/backend.h"

namespace vit::addon {

struct DeviceState {
  explicit DeviceState(std::unique_ptr<Backend> b) : backend(std::move(b)) {}
  std::unique_ptr<Backend> backend;
  std::atomic<int64_t> liveBuffers{0};
  std::atomic<int64_t> liveBytes{0};
  // Buffers the garbage collector found undisposed. The memory is returned then so a leak cannot
  // grow without bound, but a non-zero count means a caller forgot dispose(): tests assert zero.
  std::atomic<int64_t> reclaimedByGc{0};
};

}  // namespace vit::addon
