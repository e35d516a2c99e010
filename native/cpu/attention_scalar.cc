// Portable attention tile arithmetic (cpu/attention_blocks.h) for CPUs without AVX-512: plain
// loops in the order the contract states, which the compiler vectorizes at baseline x86-64 where
// the innermost loop runs along a row.
#include <cmath>

#include "cpu/attention_blocks.h"

namespace vit::cpu {

namespace {

constexpr int64_t kB = kAttentionBlock;

void scores(const float* a, const float* bt, float* s, int64_t rows, int64_t width, float scale) {
  for (int64_t i = 0; i < rows; ++i) {
    float acc[kB] = {};
    for (int64_t d = 0; d < width; ++d) {
      float ad = a[i * width + d];
      for (int64_t j = 0; j < kB; ++j) acc[j] += ad * bt[d * kB + j];
    }
    for (int64_t j = 0; j < kB; ++j) s[i * kB + j] = scale * acc[j];
  }
}

void accumulateRows(const float* p, const float* x, float* o, int64_t rows, int64_t width) {
  for (int64_t i = 0; i < rows; ++i) {
    float* oi = o + i * width;
    for (int64_t j = 0; j < kB; ++j) {
      float pij = p[i * kB + j];
      for (int64_t d = 0; d < width; ++d) oi[d] += pij * x[j * width + d];
    }
  }
}

void accumulateCols(const float* p, const float* x, float* y, int64_t rows, int64_t width) {
  for (int64_t j = 0; j < kB; ++j) {
    float* yj = y + j * width;
    for (int64_t i = 0; i < rows; ++i) {
      float pij = p[i * kB + j];
      for (int64_t d = 0; d < width; ++d) yj[d] += pij * x[i * width + d];
    }
  }
}

float expShifted(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    sum += x[j];
  }
  return sum;
}

}  // namespace

extern const AttentionBlockOps kAttentionScalar = {"scalar", scores, accumulateRows, accumulateCols,
                                                   expShifted};

}  // namespace vit::cpu
