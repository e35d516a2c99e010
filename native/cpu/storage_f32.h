// Element access for kernels templated on the storage type: f32 is stored as float, bf16 as its
// raw uint16_t bits. Loads widen to f32 exactly; stores round once (bf16: nearest, ties to even).
// Small inline functions, so loops over them still vectorize.
#pragma once

#include <cstdint>

#include "core/bf16.h"

namespace vit::cpu {

inline float loadF32(const float* p, int64_t i) { return p[i]; }
inline float loadF32(const uint16_t* p, int64_t i) { return bf16ToFloat(p[i]); }
inline void storeF32(float* p, int64_t i, float v) { p[i] = v; }
inline void storeF32(uint16_t* p, int64_t i, float v) { p[i] = floatToBf16(v); }

// A sum over n terms kept in kSumLanes independent partial sums, combined in a fixed tree at the
// end. Without -ffast-math the compiler may not reorder a single running sum, so this is what lets
// the loop vectorize; the order of additions depends on n alone (never on threads).
constexpr int kSumLanes = 16;

template <typename Term>
inline float laneSum(int64_t n, const Term& term) {
  float acc[kSumLanes] = {};
  int64_t j = 0;
  for (; j + kSumLanes <= n; j += kSumLanes) {
    for (int l = 0; l < kSumLanes; ++l) acc[l] += term(j + l);
  }
  for (int l = 0; j < n; ++j, ++l) acc[l] += term(j);
  for (int width = kSumLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  }
  return acc[0];
}

}  // namespace vit::cpu
