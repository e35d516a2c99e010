// Loading and storing one element of f32 or bf16 storage as f32, so a kernel written once as a
// template over the storage type serves both (bf16 is widened exactly and rounded once on store).
#pragma once

#include <cstdint>

#include "core/bf16.h"

namespace vit::cpu {

inline float loadF32(const float* p, int64_t i) { return p[i]; }
inline float loadF32(const uint16_t* p, int64_t i) { return bf16ToFloat(p[i]); }
inline void storeF32(float* p, int64_t i, float v) { p[i] = v; }
inline void storeF32(uint16_t* p, int64_t i, float v) { p[i] = floatToBf16(v); }

}  // namespace vit::cpu
