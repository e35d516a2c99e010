// The tanh-form GELU spans of gelu_math.h compiled with AVX-512 (this file gets -mavx512f
// -mavx512bw -mavx512vl -mfma): 16 lanes instead of 4. Called from gelu.cc after an isa.h check.
// -fno-trapping-math lets the selects of gelu_math.h become blends (see there).
#pragma GCC optimize("no-trapping-math")

#include "cpu/gelu_math.h"

namespace vit::cpu {

void geluTanhFwdAvx512(const float* x, float* y, int64_t n) { tanhFwdSpan(x, y, n); }
void geluTanhFwdAvx512(const uint16_t* x, uint16_t* y, int64_t n) { tanhFwdSpan(x, y, n); }
void geluTanhBwdAvx512(const float* x, const float* dy, float* dx, int64_t n) {
  tanhBwdSpan(x, dy, dx, n);
}
void geluTanhBwdAvx512(const uint16_t* x, const uint16_t* dy, uint16_t* dx, int64_t n) {
  tanhBwdSpan(x, dy, dx, n);
}

void geluTanhFwdBiasAvx512(const float* x, const float* b, float* y, int64_t n) {
  tanhFwdBiasSpan(x, b, y, n);
}
void geluTanhFwdBiasAvx512(const uint16_t* x, const float* b, uint16_t* y, int64_t n) {
  tanhFwdBiasSpan(x, b, y, n);
}
void geluTanhBwdBiasAvx512(const float* x, const float* b, const float* dy, float* dx, int64_t n) {
  tanhBwdBiasSpan(x, b, dy, dx, n);
}
void geluTanhBwdBiasAvx512(const uint16_t* x, const float* b, const uint16_t* dy, uint16_t* dx,
                           int64_t n) {
  tanhBwdBiasSpan(x, b, dy, dx, n);
}

}  // namespace vit::cpu
