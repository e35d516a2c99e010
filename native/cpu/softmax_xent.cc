// Softmax cross-entropy with label smoothing, loss and gradient in one pass over each row
// (lib/kernels/softmax_xent.ts SoftmaxXentArgs). One row is one task; row sums are accumulated in double in
// order of the class index, so results do not depend on the thread count.
#include <cmath>
#include <string>

#include "core/status.h"
#include "core/xent_args.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

template <typename T>
void run(Stream stream, const SoftmaxXentArgs& a) {
  const T* logits = static_cast<const T*>(a.logits);
  T* dlogits = static_cast<T*>(a.dlogits);
  const double onHot = 1.0 - a.epsilon, offHot = static_cast<double>(a.epsilon) / static_cast<double>(a.c);
  const float gradScale = static_cast<float>(static_cast<double>(a.dscale) / static_cast<double>(a.n));
  parallelRows(stream, a.n, a.n * a.c, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * a.c;
      const int64_t label = a.labels[r];
      // Subtracting the row max keeps every exp() in (0, 1]: no overflow for any finite logits.
      float m = loadF32(x, 0);
      for (int64_t j = 1; j < a.c; ++j) m = std::max(m, loadF32(x, j));
      double sumExp = 0, sumX = 0;
      for (int64_t j = 0; j < a.c; ++j) {
        float v = loadF32(x, j);
        sumExp += std::exp(static_cast<double>(v - m));
        sumX += v;
      }
      const double logSum = std::log(sumExp);
      // loss = logsumexp - sum_j q_j x_j, written around the max so that no large terms cancel:
      // sum_j q_j = 1, so sum_j q_j (m + logSum - x_j) = (m + logSum) - sum_j q_j x_j.
      double loss = (static_cast<double>(m) - loadF32(x, label)) * onHot + logSum;
      // The smoothing term only when smoothing is on: with eps = 0 a -inf logit must not make 0 * inf.
      if (a.epsilon != 0.0f) loss += offHot * (static_cast<double>(m) * a.c - sumX);
      a.loss[r] = static_cast<float>(loss);
      if (!dlogits) continue;
      T* dx = dlogits + r * a.c;
      const double invSum = 1.0 / sumExp;
      for (int64_t j = 0; j < a.c; ++j) {
        double p = std::exp(static_cast<double>(loadF32(x, j) - m)) * invSum;
        double q = (j == label ? onHot : 0.0) + offHot;
        storeF32(dx, j, static_cast<float>((p - q) * gradScale));
      }
    }
  });
}

}  // namespace

void softmaxXent(Stream stream, const SoftmaxXentArgs& a) {
  if (a.n == 0) return;
  // Labels are checked before anything is written, so a bad batch leaves the outputs untouched.
  xent_args::checkLabels(a.labels, a.n, a.c);
  if (a.dtype == DType::F32) return run<float>(stream, a);
  run<uint16_t>(stream, a);
}

}  // namespace vit::cpu
