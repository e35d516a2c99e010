// Device-side helpers shared by the CUDA kernel files: f32 / bf16 element access as f32 (bf16 is
// widened exactly and rounded once on store, by core/bf16.h's rule, the CPU's bits), and the grid
// sizes of grid-stride loops.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/bf16.h"
#include "cuda/storage_access.cuh"  // loadF32 / storeF32

namespace vit::cuda {

// Global index and stride of a 1-D grid-stride loop, in 64 bits (n may exceed 2^31).
__device__ __forceinline__ int64_t globalThread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t gridThreads() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

constexpr int kThreads = 256;
// A grid-stride loop needs no more blocks than this: enough to fill any current GPU many times
// over (132 SMs x 8 blocks of 256 threads), few enough that huge n costs no launch overhead.
constexpr int64_t kMaxBlocks = 16384;
// gridDim.y and gridDim.z are limited to 65535; loops over those axes stride by gridDim.
constexpr int64_t kMaxGridYZ = 65535;

// Blocks of kThreads for a grid-stride loop over `work` items (at least 1).
inline unsigned blocksFor(int64_t work, int64_t threads = kThreads) {
  return static_cast<unsigned>(std::clamp<int64_t>((work + threads - 1) / threads, 1, kMaxBlocks));
}

}  // namespace vit::cuda
