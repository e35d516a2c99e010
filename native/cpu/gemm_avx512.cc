// AVX-512 f32 GEMM micro-kernel (compiled with -mavx512f -mavx512bw -mavx512vl -mfma, dispatched
// at run time). 14x32 tile: 28 zmm accumulators + 2 for the B row + 1 broadcast of A = 31 of 32
// registers; each k step is 2 loads, 14 broadcasts and 28 FMAs, so the FMA units stay the limit.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"

namespace vit::cpu {

namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

void run(int64_t steps, const void* ap, const void* bp, float* c, int64_t ldc, bool accumulate) {
  const float* a = static_cast<const float*>(ap);  // [steps][14]
  const float* b = static_cast<const float*>(bp);  // [steps][32], 64-byte aligned
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    // The C tile (maybe C itself, out of cache) is only touched after the k loop: fetch it now.
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < steps; ++p) {
    __m512 b0 = _mm512_load_ps(b);
    __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < kMr; ++i) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += kMr;
    b += kNr;
  }
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(row), acc[i][0]);
      acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(row + 16), acc[i][1]);
    }
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}

}  // namespace

extern const GemmMicroKernel kGemmAvx512F32 = {"avx512-f32-14x32", kMr, kNr, false, 256, run};

}  // namespace vit::cpu
