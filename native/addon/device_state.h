// What a DeviceHandle and its BufferHandles share: the backend and the memory accounting.
// Buffers hold a shared_ptr to it, so a device's memory can always be released, even after the
// device handle itself was disposed or collected.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/status.h"

namespace vit::addon {

struct DeviceState {
  explicit DeviceState(std::unique_ptr<Backend> b) : backend(std::move(b)), id(nextId()) {}
  std::unique_ptr<Backend> backend;
  // Two handles on the same hardware (two `cpu` devices, say) are still different devices: their
  // buffers must not mix. The id tells them apart in messages.
  const uint64_t id;
  std::string label() const { return backend->describe() + " #" + std::to_string(id); }
  std::atomic<int64_t> liveBuffers{0};
  std::atomic<int64_t> liveBytes{0};
  // The most liveBytes ever held at once (buffers and plan arenas): the measured memory peak on a
  // backend without an allocator of its own (the CPU), where every byte goes through here.
  std::atomic<int64_t> peakLiveBytes{0};
  void addLiveBytes(int64_t bytes) {
    const int64_t now = liveBytes += bytes;
    int64_t peak = peakLiveBytes.load();
    while (now > peak && !peakLiveBytes.compare_exchange_weak(peak, now)) {
    }
  }
  // Buffers the garbage collector found undisposed. The memory is returned then so a leak cannot
  // grow without bound, but a non-zero count means a caller forgot dispose(): tests assert zero.
  std::atomic<int64_t> reclaimedByGc{0};

  // True while a plan step runs on a worker thread (PlanHandle.run). Set and cleared on the
  // JavaScript thread only; everything that would touch the device's memory or queue meanwhile
  // (launch, axpby, copies, frees, other runs, loading plans) refuses with ERR_DEVICE_BUSY, so the
  // worker never races the JavaScript thread and memory is never freed under a running step. (The
  // GC may still reclaim a forgotten buffer meanwhile: never one of the step's, which its plan
  // references.)
  std::atomic<bool> planRunning{false};
  void requireIdle(const std::string& use) const {
    if (!planRunning.load()) return;
    throw Error(ErrorCode::DeviceBusy,
                "cannot " + use + " on " + label() +
                    " while a plan step is running on it; await the run() promise first",
                "an idle device", "a plan step in flight");
  }

 private:
  static uint64_t nextId() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
};

}  // namespace vit::addon
