// AdamW's element loop with AVX-512: the same operations as the scalar loop of adamw.cc, 16 lanes
// at a time (the compiler may fuse a multiply and an add here; results still never depend on the
// thread count). A masked tail handles the last < 16 elements.
#include <immintrin.h>

// GCC 12 reports the masked loads' internal _mm512_undefined_ps as maybe-uninitialized: a known
// false positive (the zero mask fills every unloaded lane).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "cpu/adamw_kernels.h"

namespace vit::cpu {

namespace {

inline __m512 loadGrad(const float* g, __mmask16 k) { return _mm512_maskz_loadu_ps(k, g); }
inline __m512 loadGrad(const uint16_t* g, __mmask16 k) {
  __m256i h = _mm256_maskz_loadu_epi16(k, g);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <typename G>
void run(const AdamwConstants& c, float* param, const G* grad, float* m, float* v, int64_t begin,
         int64_t end) {
  const __m512 scale = _mm512_set1_ps(c.gradScale), b1 = _mm512_set1_ps(c.beta1),
               omb1 = _mm512_set1_ps(c.oneMinusBeta1), b2 = _mm512_set1_ps(c.beta2),
               omb2 = _mm512_set1_ps(c.oneMinusBeta2), sbc2 = _mm512_set1_ps(c.sqrtBc2),
               eps = _mm512_set1_ps(c.eps), step = _mm512_set1_ps(c.stepSize),
               decay = _mm512_set1_ps(c.decayFactor);
  for (int64_t i = begin; i < end; i += 16) {
    int64_t left = end - i;
    __mmask16 k = left >= 16 ? static_cast<__mmask16>(0xffff)
                             : static_cast<__mmask16>((1u << left) - 1);
    __m512 g = _mm512_mul_ps(scale, loadGrad(grad + i, k));
    __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_maskz_loadu_ps(k, m + i)), _mm512_mul_ps(omb1, g));
    __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_maskz_loadu_ps(k, v + i)),
                              _mm512_mul_ps(omb2, _mm512_mul_ps(g, g)));
    __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), sbc2), eps);
    __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, param + i), decay);
    p = _mm512_sub_ps(p, _mm512_mul_ps(step, _mm512_div_ps(mi, denom)));
    _mm512_mask_storeu_ps(m + i, k, mi);
    _mm512_mask_storeu_ps(v + i, k, vi);
    _mm512_mask_storeu_ps(param + i, k, p);
  }
}

}  // namespace

void adamwRangeAvx512(const AdamwConstants& c, float* param, const float* grad, float* m,
                      float* v, int64_t begin, int64_t end) {
  run(c, param, grad, m, v, begin, end);
}

void adamwRangeAvx512Bf16Grad(const AdamwConstants& c, float* param, const uint16_t* grad,
                              float* m, float* v, int64_t begin, int64_t end) {
  run(c, param, grad, m, v, begin, end);
}

}  // namespace vit::cpu
