// adafactor_stats (lib/kernels/adafactor_stats.ts): one shard's parts of the global statistics of a
// factored Adafactor step, summed exactly as native/cpu/adafactor.cc sums them when it holds the
// whole matrix (cpu/adafactor_sums.h), so that a column shard's column sums and a row shard's row
// sums are bitwise the unsharded step's:
//   s          = (gradScale grad)^2 + eps                     (f32)
//   rowSums[i] = sum_j s[i, j]    eight f32 lanes over the shard's columns
//   colSums[j] = sum_i s[i, j]    f32 in row order per 64-row block, then the blocks in order
//   vrSum[0]   = sum_i (d vr[i] + (1 - d) rowSums[i] / totalCols)   in double, in row order, stored f32
// (the updated vr exactly as adafactor computes it; meaningful for a shard of complete rows).
#include <algorithm>
#include <vector>

#include "core/status.h"
#include "cpu/adafactor_sums.h"
#include "kernels.h"

namespace vit::cpu {

void adafactorStats(Stream stream, const AdafactorStatsArgs& args) {
  using namespace adafactor_sums;
  AdafactorStatsArgs a = args;  // dynamic fields (kernels.h): read once, before any element
  if (a.gradScalePtr) a.gradScale = *a.gradScalePtr;
  if (a.decayPtr) a.decay = *a.decayPtr;
  if (a.gradType != DType::F32 && a.gradType != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "adafactor_stats gradients are f32 or bf16", "f32 or bf16",
                dtypeName(a.gradType));
  }
  const int64_t rows = a.rows, cols = a.cols;
  if (rows == 0 || cols == 0) {  // an empty shard adds nothing
    std::fill(a.rowSums, a.rowSums + rows, 0.0f);
    std::fill(a.colSums, a.colSums + cols, 0.0f);
    if (a.vrSum) *a.vrSum = 0.0f;
    return;
  }
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  std::vector<float> colPartial(blocks * cols);  // [blocks, cols]
  forEachTask(stream, blocks, [&](int64_t blk) {
    float* s = scratch(cols);
    float* part = colPartial.data() + blk * cols;
    std::fill(part, part + cols, 0.0f);
    for (int64_t i = blk * kRowBlock; i < std::min(rows, (blk + 1) * kRowBlock); ++i) {
      loadScaledGrad(a.gradType, a.grad, a.gradScale, i * cols, cols, s);
      squarePlusEps(s, cols, a.eps);
      for (int64_t j = 0; j < cols; ++j) part[j] += s[j];
      a.rowSums[i] = laneSum(s, cols);
    }
  });
  const int64_t colTasks = (cols + kChunk - 1) / kChunk;
  forEachTask(stream, colTasks, [&](int64_t t) {
    for (int64_t j = t * kChunk; j < std::min(cols, (t + 1) * kChunk); ++j) {
      a.colSums[j] = blockColumnSum(colPartial, blocks, cols, j);
    }
  });
  if (a.vrSum) {
    const float d = a.decay, oneMinusD = static_cast<float>(1.0 - a.decay);
    const float colCount = static_cast<float>(a.totalCols ? a.totalCols : cols);
    double sum = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const float vr = d * a.vr[i] + oneMinusD * (a.rowSums[i] / colCount);  // adafactor.cc's updated vr
      sum += vr;
    }
    *a.vrSum = static_cast<float>(sum);
  }
}

}  // namespace vit::cpu
