// Validation of label / target inputs that live in device memory (softmax_xent, sigmoid_xent,
// topk_accuracy). The CPU backend throws ERR_INVALID_ARGUMENT for an out-of-range label before it
// writes anything. On the GPU that check would need a device-to-host copy and a stream
// synchronization per call, which stalls the pipeline and cannot be captured into a CUDA graph.
// So by default the CUDA kernels check on the device and poison instead of throwing: an invalid
// label / target turns that example's loss (and its dlogits row) into NaN, which the training
// step's assert_finite on the loss reports as ERR_NON_FINITE before the optimizer runs; topk_accuracy
// never counts such an example.
//
// Setting VIT22B_CUDA_CHECK_INPUTS=1 additionally runs the CPU backend's exact host-side checks
// (same error code and message, nothing written) whenever the stream is not being captured: a
// debugging mode that costs one synchronous copy per call.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda/stream_scratch.h"

namespace vit::cuda {

inline bool hostInputChecks(cudaStream_t stream) {
  static const bool enabled = [] {
    const char* v = std::getenv("VIT22B_CUDA_CHECK_INPUTS");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }();
  if (!enabled) return false;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  checkCudaCall(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing");
  return capture == cudaStreamCaptureStatusNone;
}

// n elements of device memory, copied to the host once the stream's earlier work has written them.
template <typename T>
std::vector<T> downloadForCheck(cudaStream_t stream, const T* device, int64_t n) {
  std::vector<T> host(static_cast<size_t>(n));
  if (n == 0) return host;
  checkCudaCall(cudaMemcpyAsync(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost, stream),
                "cudaMemcpyAsync (input check)");
  checkCudaCall(cudaStreamSynchronize(stream), "cudaStreamSynchronize (input check)");
  return host;
}

}  // namespace vit::cuda
