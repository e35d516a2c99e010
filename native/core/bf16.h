// bfloat16 <-> float conversion, usable from host code and CUDA device code alike.
// bf16 is the top half of an IEEE float; float -> bf16 rounds to nearest, ties to even, and keeps
// NaNs quiet NaNs (a plain truncation could turn a NaN into infinity).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define VIT_HD __host__ __device__ __forceinline__
#else
#define VIT_HD inline
#endif

namespace vit {

VIT_HD uint32_t floatBits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

VIT_HD float bitsFloat(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

VIT_HD float bf16ToFloat(uint16_t h) { return bitsFloat(static_cast<uint32_t>(h) << 16); }

VIT_HD uint16_t floatToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  uint32_t roundingBias = 0x7fffu + ((u >> 16) & 1u);  // ties go to the even neighbour
  return static_cast<uint16_t>((u + roundingBias) >> 16);
}

}  // namespace vit
