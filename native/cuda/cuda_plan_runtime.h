// The CUDA side of a loaded plan (core/plan_runtime.h): one non-blocking cudaStream_t per plan
// stream and one cudaEvent_t (timing disabled) per plan event, created at load; a pinned host block
// and a device block for the run's scalars; and the cudaGraphExec_t of each captured segment of the
// step (native/exec/loaded_plan.h describes the segments and when they are captured).
//
// VIT22B_CUDA_GRAPHS=0 (read when the plan is loaded) disables capture: every step then runs its
// instructions directly on the plan's streams. A device in a mesh (NCCL) captures only with
// VIT22B_CUDA_GRAPHS=1: there every collective is watched against its deadline by an event, which
// a replayed graph would bypass.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "core/plan_runtime.h"
#include "cuda/cuda_backend.h"

namespace vit::cuda {

class CudaPlanRuntime final : public PlanRuntime {
 public:
  CudaPlanRuntime(CudaBackend& backend, size_t streams, size_t events, size_t scalars);
  ~CudaPlanRuntime() override;
  CudaPlanRuntime(const CudaPlanRuntime&) = delete;
  CudaPlanRuntime& operator=(const CudaPlanRuntime&) = delete;

  Stream stream(size_t planStream) override;
  void recordEvent(size_t planStream, uint64_t event) override;
  void waitEvent(size_t planStream, uint64_t event) override;
  void fork() override;
  void join() override;
  void synchronize() override;
  void drainAfterError() noexcept override;

  void setRunScalars(const std::vector<double>& values) override;
  const float* runScalarsF32() const override { return deviceF32_; }
  const int64_t* runScalarsI64() const override { return deviceI64_; }

  bool graphsEnabled() const override { return graphsEnabled_; }
  bool hasGraph(size_t segment) const override;
  void beginCapture() override;
  void endCapture(size_t segment) override;
  void abortCapture() noexcept override;
  void launchGraph(size_t segment) override;

 private:
  void releaseAll() noexcept;

  CudaBackend& backend_;
  std::vector<cudaStream_t> streams_;   // [max(1, plan streams)]
  std::vector<cudaEvent_t> events_;     // [plan events]
  cudaEvent_t entryEvent_ = nullptr;    // the backend stream's work before the step
  cudaEvent_t forkEvent_ = nullptr;     // recorded on stream 0, waited on by the others
  std::vector<cudaEvent_t> joinEvents_; // [streams]: recorded on stream s, waited on by stream 0
  size_t scalarCount_ = 0;
  void* hostBlock_ = nullptr;           // pinned: f32[n] (padded to 8 bytes), then i64[n]
  void* deviceBlock_ = nullptr;         // the same layout on the device
  float* deviceF32_ = nullptr;
  int64_t* deviceI64_ = nullptr;
  size_t blockBytes_ = 0;
  bool graphsEnabled_ = true;
  std::vector<cudaGraphExec_t> graphs_;  // by segment; nullptr: not captured
};

}  // namespace vit::cuda
