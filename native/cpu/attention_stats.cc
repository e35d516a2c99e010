// Attention statistics for monitoring (lib/kernels/attention_stats.ts AttentionStatsArgs): the largest attention logit
// and the mean entropy of the attention rows. The unit of work is one (batch, head) pair, whose
// partial max and entropy sum land in their own slot; the slots are then combined in index order,
// so the result does not depend on the thread count. Speed does not matter much: this runs on a
// small probe batch every few hundred steps, never inside the training step.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

template <typename T>
void run(Stream stream, const AttentionStatsArgs& a) {
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const int64_t pairs = a.batch * a.heads;
  std::vector<float> pairMax(static_cast<size_t>(pairs), -std::numeric_limits<float>::infinity());
  std::vector<double> pairEntropy(static_cast<size_t>(pairs), 0.0);
  parallelRows(stream, pairs, pairs * a.tq * a.tk * a.headDim, [&](int64_t p0, int64_t p1) {
    std::vector<float> s(static_cast<size_t>(a.tk));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / a.heads, h = p % a.heads;
      float best = -std::numeric_limits<float>::infinity();
      bool nan = false;  // std::max drops NaNs; a diverged model's NaN logits must show
      double entropy = 0.0;
      for (int64_t i = 0; i < a.tq; ++i) {
        const T* qi = q + b * a.qStrides.batch + i * a.qStrides.token + h * a.qStrides.head;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < a.tk; ++j) {
          const T* kj = k + b * a.kStrides.batch + j * a.kStrides.token + h * a.kStrides.head;
          float dot = 0.0f;
          for (int64_t d = 0; d < a.headDim; ++d) dot += loadF32(qi, d) * loadF32(kj, d);
          s[j] = a.scale * dot;
          nan = nan || std::isnan(s[j]);
          m = std::max(m, s[j]);
        }
        // H = -sum p log p with log p_j = (s_j - m) - log Z, Z = sum exp(s_j - m):
        //   H = log Z - sum_j p_j (s_j - m).
        double z = 0.0, weighted = 0.0;
        for (int64_t j = 0; j < a.tk; ++j) {
          double e = std::exp(static_cast<double>(s[j]) - m);
          z += e;
          weighted += e * (static_cast<double>(s[j]) - m);
        }
        entropy += std::log(z) - weighted / z;
        best = std::max(best, m);
      }
      pairMax[p] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
      pairEntropy[p] = entropy;
    }
  });
  float best = -std::numeric_limits<float>::infinity();
  double entropy = 0.0;
  for (int64_t p = 0; p < pairs; ++p) {
    // A NaN logit must show up in the maximum, not be dropped by std::max.
    best = std::isnan(pairMax[p]) || std::isnan(best) ? std::numeric_limits<float>::quiet_NaN()
                                                       : std::max(best, pairMax[p]);
    entropy += pairEntropy[p];
  }
  const int64_t rows = pairs * a.tq;
  a.out[0] = best;
  a.out[1] = rows > 0 ? static_cast<float>(entropy / static_cast<double>(rows)) : 0.0f;
}

}  // namespace

void attentionStats(Stream stream, const AttentionStatsArgs& a) {
  switch (a.dtype) {
    case DType::F32: return run<float>(stream, a);
    case DType::BF16: return run<uint16_t>(stream, a);
    default:
      throw Error(ErrorCode::DtypeMismatch, "attention_stats supports f32 and bf16", "f32 or bf16",
                  dtypeName(a.dtype));
  }
}

}  // namespace vit::cpu
