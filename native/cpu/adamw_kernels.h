// The AdamW element loop's per-step constants and its ISA variants (native/cpu/adamw*.cc).
#pragma once

#include "core/adamw_constants.h"

#include <cstdint>

namespace vit::cpu {

// Computed once per call in double (adamw.cc), so every chunk and ISA uses identical values.
using vit::AdamwConstants;  // core/adamw_constants.h: shared with the CUDA kernels

// [begin, end) of one tensor with AVX-512 (only after activeIsa() >= Isa::Avx512). The scalar
// baseline cannot vectorize sqrt (errno semantics), which caps it far below memory bandwidth.
void adamwRangeAvx512(const AdamwConstants& c, float* param, const float* grad, float* m,
                      float* v, int64_t begin, int64_t end);
void adamwRangeAvx512Bf16Grad(const AdamwConstants& c, float* param, const uint16_t* grad,
                              float* m, float* v, int64_t begin, int64_t end);

}  // namespace vit::cpu
