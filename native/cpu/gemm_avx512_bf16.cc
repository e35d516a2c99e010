// AVX-512 BF16 GEMM micro-kernel (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16
// -mfma, dispatched at run time). vdpbf16ps multiplies bf16 pairs exactly and adds them into f32
// lanes, so one instruction does two k steps of 16 columns: the same 14x32 register tile as the
// f32 kernel at twice the depth per instruction, from panels half the size.
#include <immintrin.h>

#include "cpu/gemm_microkernel.h"

namespace vit::cpu {

namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

void run(int64_t steps, const void* ap, const void* bp, float* c, int64_t ldc, bool accumulate) {
  // steps counts k pairs. a: [steps][14] pairs, b: [steps][32] pairs (64-byte aligned); a pair is
  // two bf16 in one 32-bit lane.
  const int32_t* a = static_cast<const int32_t*>(ap);
  const int32_t* b = static_cast<const int32_t*>(bp);
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    // The C tile (maybe C itself, out of cache) is only touched after the k loop: fetch it now.
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < steps; ++p) {
    __m512bh b0 = (__m512bh)_mm512_load_si512(b);
    __m512bh b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < kMr; ++i) {
      __m512bh ai = (__m512bh)_mm512_set1_epi32(a[i]);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
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

extern const GemmMicroKernel kGemmAvx512Bf16 = {"avx512bf16-14x32", kMr, kNr, true, 512, run};

}  // namespace vit::cpu
