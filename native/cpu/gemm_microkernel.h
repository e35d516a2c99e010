// The contract between the GEMM driver (gemm.cc: packing, blocking, threading) and the register-
// blocked micro-kernels, one file per ISA (gemm_scalar.cc, gemm_avx2.cc, gemm_avx512.cc,
// gemm_avx512_bf16.cc), each compiled with its own -m flags and chosen at run time (cpu/isa.h).
// The ISA files include nothing but this header and <immintrin.h>: an inline function from a
// shared header compiled there could be merged by the linker with the baseline copy and run on a
// CPU without those instructions.
#pragma once

#include <cstdint>

namespace vit::cpu {

// Packed panels, zero-padded past the matrix edge so every tile is full:
//   f32:       A panel [kc][mr], B panel [kc][nr]                       (float)
//   bf16Pairs: A panel [kc/2][mr][2], B panel [kc/2][nr][2]             (bf16 bits)
//              k steps come in pairs (k, k+1) in one 32-bit lane, the operand layout of
//              vdpbf16ps; an odd depth is padded with a zero step.
struct GemmMicroKernel {
  const char* name;
  int mr, nr;
  bool bf16Pairs;
  // Depth of one packed block (in k, even for bf16Pairs). Fixed per kernel, never derived from the
  // thread count: it sets where partial sums are rounded, so results stay thread-count independent.
  int kc;
  // c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_p a(i, p) * b(p, j) over the full
  // mr x nr tile; `steps` counts k steps (k pairs for bf16Pairs). c: [mr, ldc] f32.
  void (*run)(int64_t steps, const void* a, const void* b, float* c, int64_t ldc, bool accumulate);
};

extern const GemmMicroKernel kGemmScalarF32;
extern const GemmMicroKernel kGemmAvx2F32;
extern const GemmMicroKernel kGemmAvx512F32;
extern const GemmMicroKernel kGemmAvx512Bf16;

}  // namespace vit::cpu
