// The contract between the attention drivers (attention.cc: tiling, softmax bookkeeping, storage
// conversion, threading) and the f32 tile arithmetic, one file per ISA (attention_scalar.cc,
// attention_avx512.cc), chosen at run time (cpu/isa.h). As with the GEMM micro-kernels, the ISA
// files include nothing but this header and <immintrin.h>, so no inline function compiled with
// wide instructions can be merged by the linker into baseline code.
//
// Tiles are f32, row-major, zero-padded by the driver so that every row is `width` floats with
// width a multiple of 16 (a head dimension rounded up), and key tiles are always kBlock wide:
//   query-side tiles  [rows][width]         (rows <= kBlock: Q, dO, O, dQ blocks)
//   key-side tiles    [kBlock][width]       (K, V, dK, dV blocks)
//   transposed keys   [width][kBlock]       (K^T, V^T blocks)
//   score tiles       [rows][kBlock]        (S, P, dP, dS)
// Every routine sums in a fixed order that depends only on its arguments, never on the thread.
#pragma once

#include <cstdint>

namespace vit::cpu {

// Keys (and queries) per block. 64 keys are 4 zmm registers per score row; a 64 x 256 f32 tile
// is 64 KiB, so the working set of one block pair stays in L2.
constexpr int64_t kAttentionBlock = 64;

struct AttentionBlockOps {
  const char* name;
  // s[i][j] = scale * sum_d a[i][d] * bt[d][j] for i < rows, j < kBlock.
  void (*scores)(const float* a, const float* bt, float* s, int64_t rows, int64_t width,
                 float scale);
  // o[i][d] += sum_{j < kBlock} p[i][j] * x[j][d] for i < rows (x a key-side tile).
  void (*accumulateRows)(const float* p, const float* x, float* o, int64_t rows, int64_t width);
  // y[j][d] += sum_{i < rows} p[i][j] * x[i][d] for j < kBlock (x a query-side tile).
  void (*accumulateCols)(const float* p, const float* x, float* y, int64_t rows, int64_t width);
  // x[j] = exp(x[j] - shift) for j < n (n a multiple of 16); returns the sum of the results.
  // -inf - shift gives exactly 0.
  float (*expShifted)(float* x, int64_t n, float shift);
};

extern const AttentionBlockOps kAttentionScalar;
extern const AttentionBlockOps kAttentionAvx512;

}  // namespace vit::cpu
