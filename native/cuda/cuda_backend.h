// One CUDA device as a Backend: its own non-blocking stream, buffers from a caching allocator
// (caching_allocator.h), plans with a stream per plan stream (cuda_plan_runtime.h), and error
// checks that turn every CUDA failure into a vit::Error. A sticky fault (illegal address, launch
// failure, ...) poisons the CUDA context for the rest of the process, so the backend remembers it
// and answers ERR_DEVICE_LOST from then on instead of running more work on a dead context.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <memory>
#include <string>

#include "core/backend.h"
#include "cuda/caching_allocator.h"

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
  Stream stream() override { return Stream{stream_, comms()}; }
  void ensureUsable() const override;
  void bindThread() override;
  std::unique_ptr<PlanRuntime> createPlanRuntime(size_t streams, size_t events,
                                                 size_t scalars) override;
  bool readsScalarsOnDevice() const override { return true; }
  std::vector<std::pair<std::string, double>> allocatorStats() const override;

  // Checks a CUDA result; `what` names the operation for the message.
  void check(cudaError_t status, const char* what);
  bool isLost() const { return lost_.load(); }
  int ordinal() const { return ordinal_; }

 private:
  int ordinal_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CachingAllocator> allocator_;
  std::string description_;
  std::atomic<bool> lost_{false};
  std::string lostReason_;
};

// True for the errors after which the CUDA context cannot be used again.
bool isStickyError(cudaError_t status);

}  // namespace vit::cuda
