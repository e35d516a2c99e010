// Top-1 and top-k counts (lib/kernels/topk_accuracy.ts TopkAccuracyArgs). The label's rank is counted in one
// pass over its row, no sort: #{j : x_j > x_label} + #{j < label : x_j == x_label}. Ties therefore
// go to the lowest index, exactly as an argmax that keeps the first maximum. Counts are integers, so
// adding per-chunk counts in any order gives the same result.
#include <atomic>
#include <cmath>
#include <string>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

template <typename T>
void run(Stream stream, const TopkAccuracyArgs& a) {
  const T* logits = static_cast<const T*>(a.logits);
  std::atomic<int64_t> top1{0}, topk{0};
  parallelRows(stream, a.n, a.n * a.c, [&](int64_t r0, int64_t r1) {
    int64_t hits1 = 0, hitsK = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * a.c;
      const int64_t label = a.labels[r];
      const float target = loadF32(x, label);
      if (std::isnan(target)) continue;  // a NaN logit is never a correct prediction
      int64_t rank = 0;
      for (int64_t j = 0; j < label; ++j) rank += loadF32(x, j) >= target;
      for (int64_t j = label + 1; j < a.c; ++j) rank += loadF32(x, j) > target;
      hits1 += rank == 0;
      hitsK += rank < a.k;
    }
    top1 += hits1;
    topk += hitsK;
  });
  a.counts[0] = static_cast<int32_t>(top1.load());
  a.counts[1] = static_cast<int32_t>(topk.load());
}

}  // namespace

void topkAccuracy(Stream stream, const TopkAccuracyArgs& a) {
  for (int64_t r = 0; r < a.n; ++r) {
    if (a.labels[r] < 0 || a.labels[r] >= a.c) {
      throw Error(ErrorCode::InvalidArgument,
                  "topk_accuracy label of example " + std::to_string(r) + " is out of range",
                  "a class index in [0, " + std::to_string(a.c) + ")", std::to_string(a.labels[r]));
    }
  }
  if (a.dtype == DType::F32) return run<float>(stream, a);
  run<uint16_t>(stream, a);
}

}  // namespace vit::cpu
