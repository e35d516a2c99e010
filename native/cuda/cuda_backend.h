// One CUDA device as a Backend: its own non-blocking stream, cudaMalloc'd buffers, and error
// checks that turn every CUDA failure into a vit::Error. A sticky fault (illegal address, launch
// failure, ...) poisons the CUDA context for the rest of the process, so the backend remembers it
// and answers ERR_DEVICE_LOST from then on instead of running more work on a dead context.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <string>

#include "core/backend.h"

namespace vit::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int ordinal);  // throws ERR_CUDA_UNAVAILABLE / ERR_CUDA
  ~CudaBackend() override;

  const char* kind() const override { return "cuda"; }
  std::string describe() const override { return description_; }
  void* allocate(size_t bytes) override;
  void release(void* ptr) noexcept override;
  void upload(void* deviceDst, const void* hostSrc, size_t bytes) override;
  void download(void* hostDst, const void* deviceSrc, size_t bytes) override;
  void synchronize() override;
  const KernelTable& kernels() const override { return kernelTable(); }
  Stream stream() override { return Stream{stream_}; }
  void ensureUsable() const override;
  void bindThread() override;

  // Checks a CUDA result; `what` names the operation for the message.
  void check(cudaError_t status, const char* what);

 private:
  int ordinal_;
  cudaStream_t stream_ = nullptr;
  std::string description_;
  std::atomic<bool> lost_{false};
  std::string lostReason_;
};

// True for the errors after which the CUDA context cannot be used again.
bool isStickyError(cudaError_t status);

}  // namespace vit::cuda
