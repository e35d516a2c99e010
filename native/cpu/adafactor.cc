// Adafactor as big_vision uses it for ViT-G, ViT-e and ViT-22B: optax.scale_by_factored_rms
// (Shazeer & Stern 2018, without their relative step and update clipping), an optional block-RMS
// clip, momentum kept in bf16, then the learning rate, the per-parameter multiplier and decoupled
// weight decay. One step, for a parameter viewed as G[rows, cols]:
//
//   g    = gradScale * grad                                  (global-norm clip factor, or 1)
//   s    = g^2 + eps                                         (eps = epsilon1 = 1e-30)
//   d    = decay                                             (beta2_t = min(0.999, 1 - t^-0.8))
//   factored (big_vision: both dims >= 32):
//     vr[i] = d vr[i] + (1 - d) mean_j s[i, j]               vr [rows]
//     vc[j] = d vc[j] + (1 - d) mean_i s[i, j]               vc [cols]
//     v_hat[i, j] = vr[i] vc[j] / mean_i(vr)                 (the rank-1 estimate of E[g^2])
//   unfactored:
//     v_hat = v = d v + (1 - d) s                            v [rows, cols]
//   u    = g / sqrt(v_hat)
//   clipThreshold > 0:  u = u / max(1, rms(u) / clipThreshold)   (rms over the whole tensor)
//   m    = beta1 m + (1 - beta1) u                           (no debiasing; optax.ema)
//   param = param - lr * (lrMult * m + weightDecay * param)
//
// As in optax.ema with a bf16 accumulator, the update uses m in f32 and only the stored state is
// rounded to bf16. All arithmetic is f32 except the two tensor-wide reductions (mean of vr, sum of
// u^2), which are double. Row sums, column sums and the u^2 sum are each computed in a fixed order
// over fixed-size row blocks (cpu/adafactor_sums.h), so the result does not depend on the thread count.
//
// A shard of a sharded parameter (factored only; lib/kernels/adafactor.ts "Sharded"): the caller's
// rowSums[i] (sum_j s[i, j] over the global row) and colSums[j] replace the sums above, the means
// divide by the global totalCols / totalRows, and mean_i(vr) = vrSum / totalRows with the caller's
// vrSum (the sum of the updated vr over every global row) when given. adafactor_stats.cc makes
// the per-shard parts of these sums, the caller all-reduces them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/adafactor_sums.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

using adafactor_sums::blockColumnSum;
using adafactor_sums::forEachTask;
using adafactor_sums::kChunk;
using adafactor_sums::kRowBlock;
using adafactor_sums::laneSum;
using adafactor_sums::scratch;
using adafactor_sums::squarePlusEps;

// g = gradScale * grad over [begin, begin + len) into out.
void loadGrad(const AdafactorArgs& a, int64_t begin, int64_t len, float* __restrict out) {
  adafactor_sums::loadScaledGrad(a.gradType, a.grad, a.gradScale, begin, len, out);
}

double squaredSum(const float* u, int64_t len) {
  double s = 0;
  for (int64_t j = 0; j < len; ++j) s += static_cast<double>(u[j]) * u[j];
  return s;
}

// m = beta1 m + (1 - beta1) u * clip;  param -= lr (lrMult m + wd param)   over one range.
void applyUpdate(const AdafactorArgs& a, float clip, int64_t begin, int64_t len,
                 const float* __restrict u) {
  const float b1 = a.beta1, oneMinusB1 = static_cast<float>(1.0 - a.beta1);
  const float stepLr = a.lr * a.lrMult, decayLr = a.lr * a.weightDecay;
  float* __restrict p = a.param + begin;
  if (a.momentumType == DType::BF16) {
    uint16_t* __restrict m = static_cast<uint16_t*>(a.momentum) + begin;
    for (int64_t j = 0; j < len; ++j) {
      float mj = b1 * bf16ToFloat(m[j]) + oneMinusB1 * (u[j] * clip);
      m[j] = floatToBf16(mj);
      p[j] = p[j] - (stepLr * mj + decayLr * p[j]);
    }
  } else {
    float* __restrict m = static_cast<float*>(a.momentum) + begin;
    for (int64_t j = 0; j < len; ++j) {
      float mj = b1 * m[j] + oneMinusB1 * (u[j] * clip);
      m[j] = mj;
      p[j] = p[j] - (stepLr * mj + decayLr * p[j]);
    }
  }
}

float clipFactor(const AdafactorArgs& a, const std::vector<double>& partialSquares) {
  if (a.clipThreshold <= 0.0f) return 1.0f;
  double sum = 0;
  for (double s : partialSquares) sum += s;  // fixed order
  double rms = std::sqrt(sum / (static_cast<double>(a.rows) * a.cols));
  return static_cast<float>(1.0 / std::max(1.0, rms / a.clipThreshold));
}

void factoredStep(Stream stream, const AdafactorArgs& a) {
  const int64_t rows = a.rows, cols = a.cols;
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const float d = a.decay, oneMinusD = static_cast<float>(1.0 - a.decay);
  // The global matrix's dims (a shard's: adafactor.ts "Sharded"); rows, cols when unsharded.
  const int64_t totalRows = a.totalRows ? a.totalRows : rows;
  const int64_t totalCols = a.totalCols ? a.totalCols : cols;
  const float rowCount = static_cast<float>(totalRows), colCount = static_cast<float>(totalCols);
  const bool ownRows = a.rowSums == nullptr, ownCols = a.colSums == nullptr;
  std::vector<float> colPartial(ownCols ? blocks * cols : 0);  // [blocks, cols]: column sums of s per row block

  // Pass 1: row means (complete per row, or the caller's global row sums) and per-block column
  // sums of s (unless the caller gives the global column sums).
  if (ownRows || ownCols) {
    forEachTask(stream, blocks, [&](int64_t blk) {
      float* s = scratch(cols);
      float* part = ownCols ? colPartial.data() + blk * cols : nullptr;
      if (part) std::fill(part, part + cols, 0.0f);
      for (int64_t i = blk * kRowBlock; i < std::min(rows, (blk + 1) * kRowBlock); ++i) {
        loadGrad(a, i * cols, cols, s);
        squarePlusEps(s, cols, a.eps);
        if (part) {
          for (int64_t j = 0; j < cols; ++j) part[j] += s[j];
        }
        const float rowSum = ownRows ? laneSum(s, cols) : a.rowSums[i];
        a.vr[i] = d * a.vr[i] + oneMinusD * (rowSum / colCount);
      }
    });
  } else {
    for (int64_t i = 0; i < rows; ++i) a.vr[i] = d * a.vr[i] + oneMinusD * (a.rowSums[i] / colCount);
  }
  // Pass 2: column means, summing the block partials in block order.
  const int64_t colTasks = (cols + kChunk - 1) / kChunk;
  forEachTask(stream, colTasks, [&](int64_t t) {
    for (int64_t j = t * kChunk; j < std::min(cols, (t + 1) * kChunk); ++j) {
      const float sum = ownCols ? blockColumnSum(colPartial, blocks, cols, j) : a.colSums[j];
      a.vc[j] = d * a.vc[j] + oneMinusD * (sum / rowCount);
    }
  });
  double vrSum = 0;
  if (a.vrSum) {
    vrSum = *a.vrSum;  // the caller's sum over every global row
  } else {
    for (int64_t i = 0; i < rows; ++i) vrSum += a.vr[i];
  }
  const double vrMean = vrSum / static_cast<double>(totalRows);
  // 1 / sqrt(v_hat) = rowFactor[i] * colFactor[j].
  std::vector<float> rowFactor(rows), colFactor(cols);
  for (int64_t i = 0; i < rows; ++i) {
    rowFactor[i] = static_cast<float>(1.0 / std::sqrt(a.vr[i] / vrMean));
  }
  for (int64_t j = 0; j < cols; ++j) colFactor[j] = static_cast<float>(1.0 / std::sqrt(a.vc[j]));

  auto updateRow = [&](int64_t i, float* u) {
    loadGrad(a, i * cols, cols, u);
    const float r = rowFactor[i];
    for (int64_t j = 0; j < cols; ++j) u[j] = u[j] * (r * colFactor[j]);
  };
  std::vector<double> squares(blocks, 0.0);
  if (a.clipThreshold > 0.0f) {
    forEachTask(stream, blocks, [&](int64_t blk) {
      float* u = scratch(cols);
      for (int64_t i = blk * kRowBlock; i < std::min(rows, (blk + 1) * kRowBlock); ++i) {
        updateRow(i, u);
        squares[blk] += squaredSum(u, cols);
      }
    });
  }
  const float clip = clipFactor(a, squares);
  forEachTask(stream, blocks, [&](int64_t blk) {
    float* u = scratch(cols);
    for (int64_t i = blk * kRowBlock; i < std::min(rows, (blk + 1) * kRowBlock); ++i) {
      updateRow(i, u);
      applyUpdate(a, clip, i * cols, cols, u);
    }
  });
}

void unfactoredStep(Stream stream, const AdafactorArgs& a) {
  const int64_t n = a.rows * a.cols;
  const int64_t tasks = (n + kChunk - 1) / kChunk;
  const float d = a.decay, oneMinusD = static_cast<float>(1.0 - a.decay);
  const bool clipping = a.clipThreshold > 0.0f;
  // u = g / sqrt(v) after v has been updated (updateV) or with v as it is.
  auto computeU = [&](int64_t begin, int64_t len, bool updateV, float* u) {
    loadGrad(a, begin, len, u);
    float* __restrict v = a.v + begin;
    for (int64_t j = 0; j < len; ++j) {
      float vj = updateV ? d * v[j] + oneMinusD * (u[j] * u[j] + a.eps) : v[j];
      v[j] = vj;
      u[j] = u[j] / std::sqrt(vj);
    }
  };
  std::vector<double> squares(tasks, 0.0);
  if (clipping) {  // the rms needs every u before any update: v is updated here, used below
    forEachTask(stream, tasks, [&](int64_t t) {
      int64_t begin = t * kChunk, len = std::min(kChunk, n - begin);
      float* u = scratch(len);
      computeU(begin, len, true, u);
      squares[t] = squaredSum(u, len);
    });
  }
  const float clip = clipFactor(a, squares);
  forEachTask(stream, tasks, [&](int64_t t) {
    int64_t begin = t * kChunk, len = std::min(kChunk, n - begin);
    float* u = scratch(len);
    computeU(begin, len, !clipping, u);
    applyUpdate(a, clip, begin, len, u);
  });
}

}  // namespace

void adafactor(Stream stream, const AdafactorArgs& args) {
  // Dynamic fields (kernels.h): read once, before any element is touched.
  AdafactorArgs a = args;
  if (a.lrPtr) a.lr = *a.lrPtr;
  if (a.weightDecayPtr) a.weightDecay = *a.weightDecayPtr;
  if (a.decayPtr) a.decay = *a.decayPtr;
  if (a.gradScalePtr) a.gradScale = *a.gradScalePtr;
  for (DType t : {a.gradType, a.momentumType}) {
    if (t != DType::F32 && t != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch, "adafactor gradients and momentum are f32 or bf16",
                  "f32 or bf16", dtypeName(t));
    }
  }
  if (a.rows == 0 || a.cols == 0) return;
  if (a.factored) {
    factoredStep(stream, a);
  } else {
    unfactoredStep(stream, a);
  }
}

}  // namespace vit::cpu
