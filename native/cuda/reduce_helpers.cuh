// Device helpers shared by the row-wise kernels (layer_norm, softmax_xent, sigmoid_xent,
// topk_accuracy, adafactor): f32/bf16 element access and deterministic warp / block sums.
// Every sum here combines its terms in an order fixed by the launch shape alone (a butterfly over
// the lanes, then the warps in index order), so a given launch gives the same bits on every run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/bf16.h"
#include "cuda/storage_access.cuh"  // loadF32 / storeF32

namespace vit::cuda {

// Sum over the 32 lanes of a warp, the result in every lane (xor butterfly: a fixed order).
template <typename T>
__device__ __forceinline__ T warpAllSum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warpAllMax(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the first kThreads threads of the block (kThreads a multiple of 32, at most 1024), the
// result in every one of them. `shared` holds kThreads / 32 values of T. Every thread of the block
// must call it (it synchronizes); it may be called repeatedly with the same `shared`.
template <int kThreads, typename T>
__device__ __forceinline__ T blockAllSum(T v, T* shared) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps");
  v = warpAllSum(v);
  if constexpr (kThreads == 32) {
    return v;
  } else {
    constexpr int kWarps = kThreads / 32;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // the previous call's readers are done with `shared`
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    T t = lane < kWarps ? shared[lane] : T(0);
    return warpAllSum(t);
  }
}

template <int kThreads>
__device__ __forceinline__ float blockAllMax(float v, float* shared) {
  v = warpAllMax(v);
  if constexpr (kThreads == 32) {
    return v;
  } else {
    constexpr int kWarps = kThreads / 32;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float t = lane < kWarps ? shared[lane] : -INFINITY;
    return warpAllMax(t);
  }
}

// Grid sizes: a grid-stride loop covers any count with at most this many blocks.
constexpr int64_t kMaxGridBlocks = 1 << 20;

inline unsigned gridFor(int64_t work, int64_t perBlock) {
  int64_t blocks = (work + perBlock - 1) / perBlock;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxGridBlocks) blocks = kMaxGridBlocks;
  return static_cast<unsigned>(blocks);
}

}  // namespace vit::cuda
