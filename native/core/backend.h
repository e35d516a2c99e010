// A backend owns one device's memory and runs kernels on it. The CPU and CUDA backends implement
// this interface; everything above it (addon handles, the executor) is backend-agnostic.
#pragma once

#include <cstddef>
#include <string>

#include "kernels.h"

namespace vit {

class Backend {
 public:
  virtual ~Backend() = default;

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
};

}  // namespace vit
