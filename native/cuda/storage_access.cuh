// f32 / bf16 element access as f32 on the device, for every CUDA kernel file: bf16 is widened
// exactly and rounded once on store by core/bf16.h's rule (nearest even, NaNs kept quiet), the CPU's
// bits (native/cpu/storage_access.h is the CPU's twin).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/bf16.h"

namespace vit::cuda {

__device__ __forceinline__ float loadF32(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float loadF32(const uint16_t* p, int64_t i) { return bf16ToFloat(p[i]); }
__device__ __forceinline__ void storeF32(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void storeF32(uint16_t* p, int64_t i, float v) { p[i] = floatToBf16(v); }

}  // namespace vit::cuda
