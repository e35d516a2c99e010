// Top-1 and top-k counts on the GPU (lib/kernels/topk_accuracy.ts TopkAccuracyArgs; native/cpu/topk_accuracy.cc is
// the reference). The label's rank in one pass over its row, no sort:
//   rank = #{j < label : x_j >= x_label} + #{j > label : x_j > x_label}
// so ties go to the lowest index, and a NaN label logit is never counted. One 256-thread block
// per row (grid-stride); each block adds its hits to counts with one integer atomicAdd per count
// after counts is zeroed on the stream: integer sums, so the result is exact in any order.
//
// Labels live in device memory: an out-of-range label is counted as a miss instead of throwing
// (cuda/input_checks.h; VIT22B_CUDA_CHECK_INPUTS=1 restores the CPU's ERR_INVALID_ARGUMENT).
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/input_checks.h"
#include "cuda/launch_check.h"
#include "cuda/reduce_helpers.cuh"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kThreads = 256;

//   logits [n, c] of T; labels [n]; counts [2], zeroed before the launch.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    topkKernel(int64_t n, int64_t c, int64_t k, const T* __restrict__ logits,
               const int32_t* __restrict__ labels, int32_t* __restrict__ counts) {
  __shared__ long long shared[kThreads / 32];
  long long hits1 = 0, hitsK = 0;  // meaningful in thread 0
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* x = logits + r * c;
    const int64_t label = labels[r];
    if (label < 0 || label >= c) continue;  // uniform over the block: every thread skips
    const float target = loadF32(x, label);
    if (isnan(target)) continue;  // a NaN logit is never a correct prediction (uniform too)
    long long rank = 0;
    for (int64_t j = threadIdx.x; j < c; j += kThreads) {
      const float v = loadF32(x, j);
      rank += j < label ? (v >= target) : (j > label && v > target);
    }
    rank = blockAllSum<kThreads>(rank, shared);
    hits1 += rank == 0;
    hitsK += rank < k;
  }
  if (threadIdx.x == 0) {
    if (hits1) atomicAdd(&counts[0], static_cast<int32_t>(hits1));
    if (hitsK) atomicAdd(&counts[1], static_cast<int32_t>(hitsK));
  }
}

}  // namespace

void topkAccuracy(Stream stream, const TopkAccuracyArgs& a) {
  if (a.n > 0 && a.c == 0) {  // every label would be out of range (the CPU throws on the first)
    throw Error(ErrorCode::InvalidArgument, "topk_accuracy needs at least one class", "C >= 1", "0");
  }
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (hostInputChecks(s)) {
    std::vector<int32_t> labels = downloadForCheck(s, a.labels, a.n);
    for (int64_t r = 0; r < a.n; ++r) {
      if (labels[r] < 0 || labels[r] >= a.c) {
        throw Error(ErrorCode::InvalidArgument,
                    "topk_accuracy label of example " + std::to_string(r) + " is out of range",
                    "a class index in [0, " + std::to_string(a.c) + ")", std::to_string(labels[r]));
      }
    }
  }
  checkCuda(cudaMemsetAsync(a.counts, 0, 2 * sizeof(int32_t), s), "topk_accuracy memset");
  if (a.n == 0) return;
  const unsigned grid = gridFor(a.n, 1) < 4096 ? gridFor(a.n, 1) : 4096;  // bounds the atomics
  if (a.dtype == DType::F32) {
    topkKernel<float><<<grid, kThreads, 0, s>>>(a.n, a.c, a.k, static_cast<const float*>(a.logits),
                                                 a.labels, a.counts);
  } else {
    topkKernel<uint16_t><<<grid, kThreads, 0, s>>>(a.n, a.c, a.k,
                                                    static_cast<const uint16_t*>(a.logits), a.labels,
                                                    a.counts);
  }
  checkLaunch("topk_accuracy");
}

}  // namespace vit::cuda
