// GELU in place on f32 values, for fused epilogues (the GEMM's BiasGeluColumns applies it to the
// f32 accumulator before C is rounded, so C is written once). The same math and ISA dispatch as
// gelu_fwd (native/cpu/gelu.cc).
#pragma once

#include <cstdint>

#include "kernels.h"

namespace vit::cpu {

void geluInPlace(GeluForm form, float* v, int64_t n);  // v: [n]

}  // namespace vit::cpu
