// The training step's non-finite guard (lib/kernels/assert_finite.ts AssertFiniteArgs) on the GPU.
//
// A kernel cannot throw, and the values live in device memory, so the check is split:
//  1. device: a flag word in stream scratch is set to UINT64_MAX (cudaMemsetAsync), then a kernel
//     lowers it to the smallest index i with x[i] NaN or +-inf (integer atomicMin: exact and
//     order-independent, so the reported element is the first bad one, as on the CPU);
//  2. host: the flag is copied back and the stream synchronized (so this call returns only when
//     every earlier kernel of the step, and the check, have run); if the flag names an element,
//     its value is copied back too and the CPU's error is thrown (core/non_finite.h): the same
//     ERR_NON_FINITE, message, expected and received as the CPU backend.
// The executor runs instructions in order on the host, so the throw happens before the optimizer
// kernels that follow are queued: the parameters and optimizer state are untouched, as on the CPU.
// The price is one host synchronization per call (the step runs it on the loss and the gradient
// norm). Inside CUDA graph capture a synchronization is impossible, so a captured call is refused
// with ERR_NOT_IMPLEMENTED instead of breaking the capture (a graph must check after replay).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/non_finite.h"
#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

__global__ void firstNonFinite(int64_t n, const float* __restrict__ x,
                               unsigned long long* __restrict__ firstBad) {
  // Each thread visits its indices in increasing order, so its first bad one is its smallest.
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    if (!isfinite(x[i])) {
      atomicMin(firstBad, static_cast<unsigned long long>(i));
      return;
    }
  }
}

}  // namespace

void assertFinite(Stream stream, const AssertFiniteArgs& a) {
  if (a.n <= 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  checkCuda(cudaStreamIsCapturing(s, &capture), "cudaStreamIsCapturing");
  if (capture != cudaStreamCaptureStatusNone) {
    throw Error(ErrorCode::NotImplemented,
                std::string("assert_finite (") + (a.what && *a.what ? a.what : "value") +
                    ") reads its result on the host and cannot run inside CUDA graph capture",
                "an uncaptured launch", "a capturing stream");
  }
  auto* flag = static_cast<unsigned long long*>(streamScratch(s, sizeof(unsigned long long)));
  checkCuda(cudaMemsetAsync(flag, 0xff, sizeof *flag, s), "assert_finite (reset flag)");
  firstNonFinite<<<blocksFor(a.n), kThreads, 0, s>>>(a.n, a.x, flag);
  checkLaunch("assert_finite");
  unsigned long long first = ~0ull;
  checkCuda(cudaMemcpyAsync(&first, flag, sizeof first, cudaMemcpyDeviceToHost, s),
            "assert_finite (read flag)");
  checkCuda(cudaStreamSynchronize(s), "assert_finite (synchronize)");
  if (first >= static_cast<unsigned long long>(a.n)) return;  // every value is finite
  float value = 0.0f;
  checkCuda(cudaMemcpyAsync(&value, a.x + first, sizeof value, cudaMemcpyDeviceToHost, s),
            "assert_finite (read value)");
  checkCuda(cudaStreamSynchronize(s), "assert_finite (synchronize)");
  throwNonFinite(a.what, a.n, static_cast<int64_t>(first), value);
}

}  // namespace vit::cuda
