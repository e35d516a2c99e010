// AVX2 + FMA GEMM micro-kernel (compiled with -mavx2 -mfma, dispatched at run time).
// 6x16 tile: 12 ymm accumulators, 2 for the B row, 1 broadcast of A = 15 of the 16 registers.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"

namespace vit::cpu {

namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

void run(int64_t steps, const void* ap, const void* bp, float* c, int64_t ldc, bool accumulate) {
  const float* a = static_cast<const float*>(ap);  // [steps][6]
  const float* b = static_cast<const float*>(bp);  // [steps][16]
  __m256 acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < steps; ++p) {
    __m256 b0 = _mm256_load_ps(b);
    __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 6
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]);
      acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]);
    }
    _mm256_storeu_ps(row, acc[i][0]);
    _mm256_storeu_ps(row + 8, acc[i][1]);
  }
}

}  // namespace

extern const GemmMicroKernel kGemmAvx2F32 = {"avx2-f32-6x16", kMr, kNr, false, 256, run};

}  // namespace vit::cpu
