// Scratch device memory for kernels that need a temporary (per-block partial sums of layer_norm_bwd,
// adafactor's row/column factors), without a cudaMalloc per call.
//
// One grow-only buffer per (device, stream). Work on one stream runs in order, so a kernel may
// reuse the buffer that the previous call on the same stream used: the previous call's kernels
// have finished before the next call's first kernel starts. Different streams get different
// buffers, so concurrent streams never share scratch.
//
// Growth allocates a larger buffer and RETIRES the old one without freeing it (until the process
// exits): kernels already queued, or captured into a CUDA graph that may be replayed later, still
// point at it. Requests are small (at most a few MiB), so the waste is bounded by the peak size.
// Allocation switches the calling thread to relaxed stream-capture mode for the cudaMalloc, so a
// first use inside a graph capture works too.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace vit::cuda {

// At least `bytes` of device memory (256-byte aligned) private to `stream` on the current device,
// valid for work enqueued on `stream` until the next streamScratch call for the same stream.
void* streamScratch(cudaStream_t stream, size_t bytes);

// Throws the vit::Error for a failed CUDA runtime call (ERR_DEVICE_OOM, ERR_DEVICE_LOST for a
// sticky fault, ERR_CUDA otherwise); `what` names the call.
void checkCudaCall(cudaError_t status, const char* what);

// The calling thread in relaxed stream-capture mode for its lifetime: lets a cudaMalloc run while
// another stream of this thread is being captured into a graph.
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
