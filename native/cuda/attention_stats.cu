// Attention statistics for monitoring on the GPU (lib/kernels/attention_stats.ts AttentionStatsArgs). One block of
// threads walks every (batch, head, query) row, thread t taking rows t, t + blockDim, ...; each
// thread keeps its own max and entropy sum, and the block combines them in a fixed tree order, so
// the result is the same on every run. A single block is slow for big inputs, but this kernel runs
// on a small probe batch every few hundred steps, never in a training step.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/bf16.h"
#include "core/status.h"
#include "cuda/launch_check.h"
#include "cuda/storage_access.cuh"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kThreads = 256;


// max that keeps NaN (fmaxf would drop it).
__device__ __forceinline__ float maxKeepNan(float a, float b) {
  return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fmaxf(a, b);
}

template <typename T>
__global__ void statsKernel(AttentionStatsArgs a) {
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const int64_t rows = a.batch * a.heads * a.tq;
  float best = -INFINITY;
  double entropy = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const int64_t i = r % a.tq, bh = r / a.tq, h = bh % a.heads, b = bh / a.heads;
    const T* qi = q + b * a.qStrides.batch + i * a.qStrides.token + h * a.qStrides.head;
    // Two passes over the keys (max, then the sums), recomputing each logit: no [Tk] buffer.
    float m = -INFINITY;
    for (int64_t j = 0; j < a.tk; ++j) {
      const T* kj = k + b * a.kStrides.batch + j * a.kStrides.token + h * a.kStrides.head;
      float dot = 0.0f;
      for (int64_t d = 0; d < a.headDim; ++d) dot += loadF32(qi, d) * loadF32(kj, d);
      m = maxKeepNan(m, a.scale * dot);
    }
    double z = 0.0, weighted = 0.0;
    for (int64_t j = 0; j < a.tk; ++j) {
      const T* kj = k + b * a.kStrides.batch + j * a.kStrides.token + h * a.kStrides.head;
      float dot = 0.0f;
      for (int64_t d = 0; d < a.headDim; ++d) dot += loadF32(qi, d) * loadF32(kj, d);
      double shifted = static_cast<double>(a.scale * dot) - m;
      double e = exp(shifted);
      z += e;
      weighted += e * shifted;
    }
    entropy += log(z) - weighted / z;  // H = log Z - sum_j p_j (s_j - m)
    best = maxKeepNan(best, m);
  }
  __shared__ float maxes[kThreads];
  __shared__ double sums[kThreads];
  maxes[threadIdx.x] = best;
  sums[threadIdx.x] = entropy;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      maxes[threadIdx.x] = maxKeepNan(maxes[threadIdx.x], maxes[threadIdx.x + half]);
      sums[threadIdx.x] += sums[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    a.out[0] = maxes[0];
    a.out[1] = rows > 0 ? static_cast<float>(sums[0] / static_cast<double>(rows)) : 0.0f;
  }
}

}  // namespace

void attentionStats(Stream stream, const AttentionStatsArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  switch (a.dtype) {
    case DType::F32:
      statsKernel<float><<<1, kThreads, 0, s>>>(a);
      break;
    case DType::BF16:
      statsKernel<uint16_t><<<1, kThreads, 0, s>>>(a);
      break;
    default:
      throw Error(ErrorCode::DtypeMismatch, "attention_stats supports f32 and bf16", "f32 or bf16",
                  dtypeName(a.dtype));
  }
  checkLaunch("attention_stats");
}

}  // namespace vit::cuda
