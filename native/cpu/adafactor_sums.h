// What adafactor.cc and adafactor_stats.cc share, so that a shard's statistics (adafactor_stats)
// are summed exactly as the unsharded step sums them: the gradient load g = gradScale * grad, the
// row sum of s = g^2 + eps (eight f32 lanes combined in a fixed order), the 64-row blocks the
// column sums are made of (f32 in row order within a block, then the blocks in order), and the
// task loop over the thread pool. Every sum is in a fixed order over fixed blocks: results never
// depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/bf16.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu::adafactor_sums {

constexpr int64_t kRowBlock = 64;   // rows per task in the factored passes (and per column partial)
constexpr int64_t kChunk = 1 << 14;  // elements per task in the unfactored and per-column passes

inline ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

template <typename Fn>
void forEachTask(Stream stream, int64_t tasks, const Fn& fn) {
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) fn(t);
  };
  if (tasks <= 1) {
    body(0, tasks);
  } else {
    poolOf(stream).parallelFor(tasks, body);
  }
}

// g = gradScale * grad over [begin, begin + len) into out (grad f32 or bf16).
inline void loadScaledGrad(DType gradType, const void* grad, float gradScale, int64_t begin, int64_t len,
                           float* __restrict out) {
  if (gradType == DType::F32) {
    const float* g = static_cast<const float*>(grad) + begin;
    for (int64_t j = 0; j < len; ++j) out[j] = gradScale * g[j];
  } else {
    const uint16_t* g = static_cast<const uint16_t*>(grad) + begin;
    for (int64_t j = 0; j < len; ++j) out[j] = gradScale * bf16ToFloat(g[j]);
  }
}

// Sum in eight interleaved f32 lanes, combined in a fixed order: vectorizable and deterministic.
inline float laneSum(const float* x, int64_t len) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[j + l];
  }
  for (int l = 0; j < len; ++j, ++l) acc[l] += x[j];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// s = g^2 + eps in place.
inline void squarePlusEps(float* s, int64_t len, float eps) {
  for (int64_t j = 0; j < len; ++j) s[j] = s[j] * s[j] + eps;
}

// The column sums of s: part[blk, j] over the rows of row block blk, filled by the caller's
// pass over the rows; sum(part, j) adds the blocks in order.
inline float blockColumnSum(const std::vector<float>& part, int64_t blocks, int64_t cols, int64_t j) {
  float sum = 0;
  for (int64_t blk = 0; blk < blocks; ++blk) sum += part[blk * cols + j];
  return sum;
}

inline std::vector<float>& rowScratch() {
  thread_local std::vector<float> s;  // one row (factored) or chunk (unfactored)
  return s;
}

inline float* scratch(int64_t len) {
  std::vector<float>& s = rowScratch();
  if (static_cast<int64_t>(s.size()) < len) s.resize(len);
  return s.data();
}

}  // namespace vit::cpu::adafactor_sums
