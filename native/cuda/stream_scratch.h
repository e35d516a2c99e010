// Device scratch memory private to one CUDA stream, for kernels that need temporary device memory
// their argument struct does not provide (the per-block partial sums of reduce_sum / global_norm /
// layer_norm_bwd, adafactor's row and column factors, the flag of assert_finite), without a
// cudaMalloc per call.
//
// Why per stream: work on one stream runs in order, so every user of a stream's scratch finishes
// before the next one starts; no two kernels of different streams can ever share it. A kernel's
// scratch is valid for the work it enqueues until the next streamScratch call on the same stream.
// Buffers are never freed while the stream lives: growing allocates a larger one and keeps the old
// one until releaseStreamScratch, so work already queued (or frozen into a captured CUDA graph)
// that points at the old buffer stays valid, and growing needs no synchronization. Once warmed up
// (the first step of a plan), no call allocates; a growth during graph capture allocates in relaxed
// capture mode (cudaMalloc is not a stream operation, so the graph does not record it).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace vit::cuda {

// At least `bytes` of device memory on the current device, 256-byte aligned, for work queued on
// `stream` only. Contents are undefined. Throws ERR_DEVICE_OOM, ERR_CUDA, ERR_DEVICE_LOST.
void* streamScratch(cudaStream_t stream, size_t bytes);

// Frees every scratch buffer of `stream` (on the current device); call after the stream's work is
// finished and before cudaStreamDestroy, so a later stream with the same handle starts afresh.
void releaseStreamScratch(cudaStream_t stream) noexcept;

// Process-wide figures of the scratch: bytes held (retired buffers included) and cudaMalloc calls
// (constant once a training loop has warmed up).
struct StreamScratchStats {
  uint64_t bytes = 0;
  uint64_t mallocs = 0;
};
StreamScratchStats streamScratchStats();

// Throws the vit::Error of a failed CUDA runtime call made by a kernel file (`what` names it):
// ERR_DEVICE_LOST for the sticky faults, ERR_DEVICE_OOM for cudaErrorMemoryAllocation, ERR_CUDA
// otherwise (a non-sticky error is cleared first so it is not reported again later).
void checkCuda(cudaError_t status, const char* what);

// The calling thread in relaxed stream-capture mode for its lifetime: lets a cudaMalloc run while
// a stream of this thread is being captured into a graph.
class RelaxedCaptureScope {
 public:
  RelaxedCaptureScope() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  ~RelaxedCaptureScope() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  RelaxedCaptureScope(const RelaxedCaptureScope&) = delete;
  RelaxedCaptureScope& operator=(const RelaxedCaptureScope&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

}  // namespace vit::cuda
