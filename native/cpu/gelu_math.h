// The tanh-form GELU and its derivative as branch-free f32 math, and the loops over a span that
// apply them. Compiled twice: into gelu.cc (baseline x86-64) and into gelu_avx512.cc (AVX-512), so
// everything here has internal linkage and this header includes nothing with external inline
// functions: such a function compiled with AVX-512 could be picked by the linker for the baseline
// build.
// Both files are compiled with -fno-trapping-math (a pragma at their top): without it the compiler
// will not turn the selects below into vector blends, and the loops stay scalar.
//
// gelu(x) = 0.5 x (1 + tanh(u)) = x * sigmoid(z), z = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3)
// gelu'(x) = sigmoid(z) + x * sigmoid(z) (1 - sigmoid(z)) * dz/dx
// sigmoid and sigmoid (1 - sigmoid) come from t = exp(-|z|) <= 1, which keeps full relative accuracy
// in both tails (1 + tanh(u) for very negative x would lose every digit).
#pragma once

#include <cstdint>

#include "cpu/isa_storage.h"

namespace vit::cpu {
namespace {

constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;  // 2 sqrt(2/pi)
constexpr float kCubic = 0.044715f;

// exp(w) for w in [-87, 0], relative error a few ulp; the result stays in the normal range.
inline float expCore(float w) {
  // n = round(w / ln 2) by the 1.5 * 2^23 trick (exact for |w / ln 2| < 2^22), r = w - n ln 2 with
  // ln 2 split in two so r is exact enough; |r| <= ln(2) / 2.
  const float n = (w * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
  float r = w - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  // Taylor to degree 7: truncation below 2^-27 on |r| <= 0.347.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]: a normal float
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// exp(v) for v <= 0. Below -87 the result leaves the normal range; it is then exp(v/2)^2, which
// underflows gradually through the subnormals like the true value (gelu(x) for x around -10 is
// x * exp(z) ~ 1e-37 and must not be flushed to zero). Every value is computed, then selected.
inline float expNonPositive(float v) {
  const bool deep = v < -87.0f;
  const float half = 0.5f * v;
  float w = deep ? half : v;
  w = w < -87.0f ? -87.0f : w;  // below exp(-174) the square is 0 in f32 anyway
  const float e = expCore(w);
  const float sq = e * e;
  const float r = deep ? sq : e;
  return v < -174.0f ? 0.0f : r;
}

inline float absF(float x) { return x < 0.0f ? -x : x; }
inline float zOf(float x) { return kTwoSqrt2OverPi * x * (1.0f + kCubic * x * x); }
inline float dzdx(float x) { return kTwoSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x); }

inline float geluTanh(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-absF(z));
  const float num = z >= 0.0f ? 1.0f : t;
  return x * (num / (1.0f + t));  // x * sigmoid(z)
}

inline float geluTanhGrad(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-absF(z));
  const float inv = 1.0f / (1.0f + t);
  const float num = z >= 0.0f ? 1.0f : t;
  const float s = num * inv;
  const float sPrime = t * inv * inv;  // sigmoid(z) (1 - sigmoid(z)), symmetric in z
  return s + x * sPrime * dzdx(x);
}

template <typename T>
void tanhFwdSpan(const T* x, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(y, j, geluTanh(isaLoad(x, j)));
}

template <typename T>
void tanhBwdSpan(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(dx, j, isaLoad(dy, j) * geluTanhGrad(isaLoad(x, j)));
}

// With a bias (already f32, aligned with the span): gelu(x + b), the add in f32.
template <typename T>
void tanhFwdBiasSpan(const T* x, const float* b, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(y, j, geluTanh(isaLoad(x, j) + b[j]));
}

template <typename T>
void tanhBwdBiasSpan(const T* x, const float* b, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    isaStore(dx, j, isaLoad(dy, j) * geluTanhGrad(isaLoad(x, j) + b[j]));
  }
}

}  // namespace

// The same spans compiled with AVX-512 (gelu_avx512.cc); call only when activeIsa() >= Avx512.
void geluTanhFwdAvx512(const float* x, float* y, int64_t n);
void geluTanhFwdAvx512(const uint16_t* x, uint16_t* y, int64_t n);
void geluTanhBwdAvx512(const float* x, const float* dy, float* dx, int64_t n);
void geluTanhBwdAvx512(const uint16_t* x, const uint16_t* dy, uint16_t* dx, int64_t n);
void geluTanhFwdBiasAvx512(const float* x, const float* b, float* y, int64_t n);
void geluTanhFwdBiasAvx512(const uint16_t* x, const float* b, uint16_t* y, int64_t n);
void geluTanhBwdBiasAvx512(const float* x, const float* b, const float* dy, float* dx, int64_t n);
void geluTanhBwdBiasAvx512(const uint16_t* x, const float* b, const uint16_t* dy, uint16_t* dx,
                           int64_t n);

}  // namespace vit::cpu
