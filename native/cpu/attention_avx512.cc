// AVX-512 attention tile arithmetic (cpu/attention_blocks.h); compiled with -mavx512f -mavx512bw
// -mavx512vl -mfma and used only after activeIsa() >= Avx512.
// Register tiles: a score row of 64 keys is 4 zmm, so `scores` keeps 4 query rows x 64 keys in 16
// accumulators and each head-dim step costs 4 loads + 4 broadcasts for 16 FMAs; the two
// accumulate routines keep 4 rows x up to 64 columns the same way.
// GCC 12 reports the deliberately undefined pass-through operand (`__Y = __Y`) inside its own
// unmasked AVX-512 intrinsics as uninitialized; it is never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/attention_blocks.h"

namespace vit::cpu {

namespace {

constexpr int64_t kB = kAttentionBlock;

template <int R>
void scoresRows(const float* a, const float* bt, float* s, int64_t width, float scale) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < width; ++d) {
    const float* b = bt + d * kB;
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    __m512 b2 = _mm512_loadu_ps(b + 32), b3 = _mm512_loadu_ps(b + 48);
    for (int r = 0; r < R; ++r) {
      __m512 ar = _mm512_set1_ps(a[r * width + d]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(ar, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(ar, b3, acc[r][3]);
    }
  }
  __m512 sc = _mm512_set1_ps(scale);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(s + r * kB + 16 * c, _mm512_mul_ps(sc, acc[r][c]));
}

void scores(const float* a, const float* bt, float* s, int64_t rows, int64_t width, float scale) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) scoresRows<4>(a + i * width, bt, s + i * kB, width, scale);
  for (; i < rows; ++i) scoresRows<1>(a + i * width, bt, s + i * kB, width, scale);
}

// o[r][c0 + 16c] += sum_j p[r][j] x[j][c0 + 16c] for R rows and C vectors of columns.
template <int R, int C>
void rowsTile(const float* p, const float* x, float* o, int64_t width) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_loadu_ps(o + r * width + 16 * c);
  for (int64_t j = 0; j < kB; ++j) {
    __m512 xv[C];
    for (int c = 0; c < C; ++c) xv[c] = _mm512_loadu_ps(x + j * width + 16 * c);
    for (int r = 0; r < R; ++r) {
      __m512 pr = _mm512_set1_ps(p[r * kB + j]);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(pr, xv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(o + r * width + 16 * c, acc[r][c]);
}

template <int R>
void rowsBand(const float* p, const float* x, float* o, int64_t width) {
  int64_t c0 = 0;
  for (; c0 + 64 <= width; c0 += 64) rowsTile<R, 4>(p, x + c0, o + c0, width);
  switch ((width - c0) / 16) {
    case 3: rowsTile<R, 3>(p, x + c0, o + c0, width); break;
    case 2: rowsTile<R, 2>(p, x + c0, o + c0, width); break;
    case 1: rowsTile<R, 1>(p, x + c0, o + c0, width); break;
    default: break;
  }
}

void accumulateRows(const float* p, const float* x, float* o, int64_t rows, int64_t width) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) rowsBand<4>(p + i * kB, x, o + i * width, width);
  for (; i < rows; ++i) rowsBand<1>(p + i * kB, x, o + i * width, width);
}

// y[j0 + r][c0 + 16c] += sum_i p[i][j0 + r] x[i][c0 + 16c] for 4 key rows and C column vectors.
template <int C>
void colsTile(const float* p, const float* x, float* y, int64_t rows, int64_t width) {
  __m512 acc[4][C];
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_loadu_ps(y + r * width + 16 * c);
  for (int64_t i = 0; i < rows; ++i) {
    __m512 xv[C];
    for (int c = 0; c < C; ++c) xv[c] = _mm512_loadu_ps(x + i * width + 16 * c);
    for (int r = 0; r < 4; ++r) {
      __m512 pr = _mm512_set1_ps(p[i * kB + r]);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(pr, xv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(y + r * width + 16 * c, acc[r][c]);
}

void accumulateCols(const float* p, const float* x, float* y, int64_t rows, int64_t width) {
  for (int64_t j = 0; j < kB; j += 4) {
    const float* pj = p + j;
    float* yj = y + j * width;
    int64_t c0 = 0;
    for (; c0 + 64 <= width; c0 += 64) colsTile<4>(pj, x + c0, yj + c0, rows, width);
    switch ((width - c0) / 16) {
      case 3: colsTile<3>(pj, x + c0, yj + c0, rows, width); break;
      case 2: colsTile<2>(pj, x + c0, yj + c0, rows, width); break;
      case 1: colsTile<1>(pj, x + c0, yj + c0, rows, width); break;
      default: break;
    }
  }
}

// exp by range reduction: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by the degree-7 Taylor-like
// polynomial of Cephes' expf (relative error ~1e-7), times 2^n built in the exponent bits.
// Arguments below -87.3 (where 2^n would be subnormal), -inf included, give exactly 0.
__m512 exp512(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.3f);
  __mmask16 live = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 poly = _mm512_set1_ps(1.9875691500e-4f);
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.3981999507e-3f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(8.3334519073e-3f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(4.1665795894e-2f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.6666665459e-1f));
  poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(5.0000001201e-1f));
  poly = _mm512_fmadd_ps(poly, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mul_ps(live, poly, _mm512_castsi512_ps(bits));
}

float expShifted(float* x, int64_t n, float shift) {
  __m512 sh = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + j), sh));
    _mm512_storeu_ps(x + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

}  // namespace

extern const AttentionBlockOps kAttentionAvx512 = {"avx512", scores, accumulateRows,
                                                   accumulateCols, expShifted};

}  // namespace vit::cpu
