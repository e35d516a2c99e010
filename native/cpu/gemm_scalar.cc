// Portable GEMM micro-kernel for CPUs without AVX2/FMA: a 4x8 tile of accumulators, written so the
// compiler keeps them in the 16 SSE registers of baseline x86-64.
#include "cpu/gemm_microkernel.h"

namespace vit::cpu {

namespace {

constexpr int kMr = 4;
constexpr int kNr = 8;

void run(int64_t steps, const void* ap, const void* bp, float* c, int64_t ldc, bool accumulate) {
  const float* a = static_cast<const float*>(ap);  // [steps][kMr]
  const float* b = static_cast<const float*>(bp);  // [steps][kNr]
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < steps; ++p) {
    for (int i = 0; i < kMr; ++i) {
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
    }
    a += kMr;
    b += kNr;
  }
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < kNr; ++j) row[j] = accumulate ? row[j] + acc[i][j] : acc[i][j];
  }
}

}  // namespace

extern const GemmMicroKernel kGemmScalarF32 = {"scalar-f32-4x8", kMr, kNr, false, 256, run};

}  // namespace vit::cpu
