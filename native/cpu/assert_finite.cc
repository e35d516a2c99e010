// The training step's non-finite guard (native/kernels.h AssertFiniteArgs). It reads a handful of
// scalars (the loss, the gradient norm), so it runs on the calling thread; the first NaN or inf
// throws ERR_NON_FINITE, which fails the plan run at this instruction, before any update.
#include <cmath>
#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::cpu {

void assertFinite(Stream, const AssertFiniteArgs& a) {
  for (int64_t i = 0; i < a.n; ++i) {
    const float v = a.x[i];
    if (std::isfinite(v)) continue;
    const std::string what = a.what && *a.what ? a.what : "value";
    const std::string received = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    throw Error(ErrorCode::NonFinite,
                what + (a.n > 1 ? "[" + std::to_string(i) + "]" : "") + " is " + received +
                    ": the step was stopped before the optimizer update",
                "a finite " + what, received);
  }
}

}  // namespace vit::cpu
