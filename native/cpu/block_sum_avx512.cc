// The block sum of block_sum.cc with AVX-512: eight double lanes, the same lane assignment
// (element i goes to lane i % 8 from the block start) and the same final pairwise combination, so
// the result is bitwise that of the portable loop. Only called after activeIsa() >= Avx512.
#include <immintrin.h>

#include <cstdint>

#include "core/bf16.h"
#include "core/dtype.h"

namespace vit::cpu {

namespace {

inline __m512d widen(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline __m512d widen(const uint16_t* p) {
  __m256i bits = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16);
  return _mm512_cvtps_pd(_mm256_castsi256_ps(bits));
}
inline double widenOne(const float* p) { return *p; }
inline double widenOne(const uint16_t* p) { return bf16ToFloat(*p); }

template <typename T, bool kSquares>
double sumRange(const T* x, int64_t begin, int64_t end) {
  // Two accumulators would break the lane pattern of the portable loop (and its bits); one chain of
  // adds per 8 elements still outruns memory with two threads.
  __m512d acc = _mm512_setzero_pd();
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m512d v = widen(x + i);
    acc = kSquares ? _mm512_add_pd(acc, _mm512_mul_pd(v, v)) : _mm512_add_pd(acc, v);
  }
  alignas(64) double lane[8];
  _mm512_store_pd(lane, acc);
  for (int j = 0; i < end; ++i, ++j) {
    double v = widenOne(x + i);
    lane[j] += kSquares ? v * v : v;
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace

double blockSumAvx512(DType dtype, const void* x, int64_t begin, int64_t end, bool squares) {
  if (dtype == DType::F32) {
    const float* p = static_cast<const float*>(x);
    return squares ? sumRange<float, true>(p, begin, end) : sumRange<float, false>(p, begin, end);
  }
  const uint16_t* p = static_cast<const uint16_t*>(x);
  return squares ? sumRange<uint16_t, true>(p, begin, end) : sumRange<uint16_t, false>(p, begin, end);
}

}  // namespace vit::cpu
