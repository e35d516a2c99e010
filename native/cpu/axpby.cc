// y = alpha * x + beta * y, f32 or bf16 storage with f32 arithmetic.
// Plain loops the compiler vectorizes; the multi-threaded, ISA-dispatched version comes with the
// CPU kernel library.
#include <cstdint>

#include "core/bf16.h"
#include "core/status.h"
#include "kernels.h"

namespace vit::cpu {

void axpby(Stream, const AxpbyArgs& args) {
  // Dynamic fields (kernels.h): read once, before any element is touched.
  AxpbyArgs a = args;
  if (a.alphaPtr) a.alpha = *a.alphaPtr;
  if (a.betaPtr) a.beta = *a.betaPtr;
  switch (a.dtype) {
    case DType::F32: {
      const float* x = static_cast<const float*>(a.x);
      float* y = static_cast<float*>(a.y);
      // beta == 0 overwrites y without reading it (the BLAS rule), so stale NaNs do not leak in.
      if (a.beta == 0.0f) {
        for (int64_t i = 0; i < a.n; ++i) y[i] = a.alpha * x[i];
      } else {
        for (int64_t i = 0; i < a.n; ++i) y[i] = a.alpha * x[i] + a.beta * y[i];
      }
      return;
    }
    case DType::BF16: {
      const uint16_t* x = static_cast<const uint16_t*>(a.x);
      uint16_t* y = static_cast<uint16_t*>(a.y);
      for (int64_t i = 0; i < a.n; ++i) {
        float ax = a.alpha * bf16ToFloat(x[i]);
        // beta == 0: store alpha*x alone, so -0 stays -0 exactly as in the f32 path.
        y[i] = floatToBf16(a.beta == 0.0f ? ax : ax + a.beta * bf16ToFloat(y[i]));
      }
      return;
    }
    default:
      throw Error(ErrorCode::DtypeMismatch, "axpby supports f32 and bf16", "f32 or bf16",
                  dtypeName(a.dtype));
  }
}

}  // namespace vit::cpu
