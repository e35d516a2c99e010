// A backend owns one device's memory and runs kernels on it. The CPU and CUDA backends implement
// this interface; everything above it (addon handles, the executor) is backend-agnostic.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/plan_runtime.h"
#include "kernels.h"

namespace vit {

namespace comm {
class DeviceComms;  // native/comm/device_comms.h
}

class Backend {
 public:
  virtual ~Backend() = default;

  // The device's place in a mesh (its coordinates and communicators), handed to kernels as
  // Stream::comm by stream(); null outside a mesh. Set once, by the mesh, before any run uses it.
  void setComms(std::shared_ptr<comm::DeviceComms> comms) { comms_ = std::move(comms); }
  comm::DeviceComms* comms() const { return comms_.get(); }

  virtual const char* kind() const = 0;      // "cpu" | "cuda"
  virtual std::string describe() const = 0;  // e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"

  // Memory. allocate throws ERR_HOST_OOM / ERR_DEVICE_OOM with the figures; release never throws
  // (it runs from destructors and GC finalizers).
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr) noexcept = 0;

  // Synchronous copies between host memory and this device's memory.
  virtual void upload(void* deviceDst, const void* hostSrc, size_t bytes) = 0;
  virtual void download(void* hostDst, const void* deviceSrc, size_t bytes) = 0;

  // Waits for all queued work; surfaces asynchronous failures as vit::Error.
  virtual void synchronize() = 0;

  virtual const KernelTable& kernels() const = 0;
  virtual Stream stream() = 0;

  // Throws ERR_DEVICE_LOST once a sticky fault has made the device unusable.
  virtual void ensureUsable() const {}

  // Makes the calling thread ready to run this device's work. A plan step runs on a worker
  // thread, and CUDA's current device is per thread (cudaSetDevice); the CPU needs nothing.
  virtual void bindThread() {}

  // Streams, events, a run-scalar block and graphs for a loaded plan of `streams` streams, `events`
  // events and `scalars` run scalars; nullptr (the CPU) runs every plan serially on stream().
  virtual std::unique_ptr<PlanRuntime> createPlanRuntime(size_t streams, size_t events,
                                                         size_t scalars) {
    return nullptr;
  }

  // Whether prepared calls should read dynamic scalars from device memory (kernels.h "Dynamic
  // scalar fields") instead of resolving them on the host: true where createPlanRuntime is not null.
  virtual bool readsScalarsOnDevice() const { return false; }

  // The memory allocator's figures (name, value), for DeviceHandle.stats(); empty when the backend
  // has no allocator of its own.
  virtual std::vector<std::pair<std::string, double>> allocatorStats() const { return {}; }

 protected:
  std::shared_ptr<comm::DeviceComms> comms_;
};

}  // namespace vit
