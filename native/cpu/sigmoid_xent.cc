// Sigmoid (multi-label) cross-entropy with label smoothing, loss and gradient in one pass
// (lib/kernels/sigmoid_xent.ts SigmoidXentArgs). Per element, with t' the smoothed target:
//   -t' log s(x) - (1 - t') log(1 - s(x)) = max(x, 0) - x t' + log1p(exp(-|x|))
// which never overflows (exp of a non-positive number) and keeps full precision for large |x|,
// where the naive form would take log(0). One row is one task, summed in double in class order.
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
void run(Stream stream, const SigmoidXentArgs& a) {
  const T* logits = static_cast<const T*>(a.logits);
  T* dlogits = static_cast<T*>(a.dlogits);
  const double keep = 1.0 - a.epsilon, floor = 0.5 * a.epsilon;
  const double gradScale = static_cast<double>(a.dscale) / static_cast<double>(a.n);
  parallelRows(stream, a.n, a.n * a.c, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = logits + r * a.c;
      const float* t = a.targets + r * a.c;
      T* dx = dlogits ? dlogits + r * a.c : nullptr;
      double loss = 0;
      for (int64_t j = 0; j < a.c; ++j) {
        double v = loadF32(x, j);
        double target = keep * t[j] + floor;
        double e = std::exp(-std::fabs(v));  // in (0, 1]
        loss += std::max(v, 0.0) - v * target + std::log1p(e);
        if (dx) {
          double sig = v >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
          storeF32(dx, j, static_cast<float>((sig - target) * gradScale));
        }
      }
      a.loss[r] = static_cast<float>(loss);
    }
  });
}

}  // namespace

void sigmoidXent(Stream stream, const SigmoidXentArgs& a) {
  if (a.n == 0) return;
  // Targets are checked before anything is written (a NaN fails the test too).
  const int64_t total = a.n * a.c;
  xent_args::checkTargets(a.targets, total);
  if (a.dtype == DType::F32) return run<float>(stream, a);
  run<uint16_t>(stream, a);
}

}  // namespace vit::cpu
