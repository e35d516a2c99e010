// f32 / bf16 element access for code compiled once per ISA (the *_math.h / *_rows.h headers that
// both a baseline file and its *_avx512.cc include). Internal linkage and no includes with external
// inline functions, so no copy built with AVX-512 can reach the baseline build through the linker.
// The rule is core/bf16.h's (nearest, ties to even, NaN stays a quiet NaN), restated here for that
// reason; tests hold both to the same reference.
#pragma once

#include <cstdint>

namespace vit::cpu {
namespace {

inline float isaBf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}
inline uint16_t isaFloatToBf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  uint32_t nan = (u >> 16) | 0x0040u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}
inline float isaLoad(const float* p, int64_t i) { return p[i]; }
inline float isaLoad(const uint16_t* p, int64_t i) { return isaBf16ToFloat(p[i]); }
inline void isaStore(float* p, int64_t i, float v) { p[i] = v; }
inline void isaStore(uint16_t* p, int64_t i, float v) { p[i] = isaFloatToBf16(v); }

}  // namespace
}  // namespace vit::cpu
