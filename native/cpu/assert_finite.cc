// The training step's non-finite guard (lib/kernels/assert_finite.ts AssertFiniteArgs). It reads a handful of
// scalars (the loss, the gradient norm), so it runs on the calling thread; the first NaN or inf
// throws ERR_NON_FINITE (core/non_finite.h, shared with CUDA), which fails the plan run at this
// instruction, before any update.
#include <cmath>

#include "core/non_finite.h"
#include "kernels.h"

namespace vit::cpu {

void assertFinite(Stream, const AssertFiniteArgs& a) {
  for (int64_t i = 0; i < a.n; ++i) {
    if (!std::isfinite(a.x[i])) throwNonFinite(a.what, a.n, i, a.x[i]);
  }
}

}  // namespace vit::cpu
