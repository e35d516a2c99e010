// GELU and its derivative on the device, written operation for operation like the CPU's
// (native/cpu/gelu_math.h for the tanh form, native/cpu/gelu.cc for the erf form), so the GELU
// kernel and any fused GEMM epilogue share one definition.
//
// Tanh form: every f32 operation is an explicit round-to-nearest intrinsic (__fmul_rn, __fadd_rn,
// __fdiv_rn), which nvcc never contracts into an FMA. The CPU's baseline x86-64 build has no FMA
// either, so with the same operation order the results are the CPU baseline's bits (the CPU's
// AVX-512 copy of gelu_math.h is built with -mfma and may differ from both by an ulp).
// Erf form: CUDA's erfcf / expf are not glibc's, so results agree with the CPU to a few ulp only.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace vit::cuda::gelu_math {

// Host builds (a test can compare this file with the CPU's gelu_math.h on the host) use plain
// operators: x86-64 baseline code has no FMA to contract into.
#if defined(__CUDACC__)
#define VIT_GELU_HD __host__ __device__ __forceinline__
#else
#define VIT_GELU_HD inline
#endif

#if defined(__CUDA_ARCH__)
#define VIT_GELU_OP(intrinsic, expr) return intrinsic
#else
#define VIT_GELU_OP(intrinsic, expr) return expr
#endif
VIT_GELU_HD float mul(float a, float b) { VIT_GELU_OP(__fmul_rn(a, b), a * b); }
VIT_GELU_HD float add(float a, float b) { VIT_GELU_OP(__fadd_rn(a, b), a + b); }
VIT_GELU_HD float sub(float a, float b) { VIT_GELU_OP(__fsub_rn(a, b), a - b); }
VIT_GELU_HD float div(float a, float b) { VIT_GELU_OP(__fdiv_rn(a, b), a / b); }
#undef VIT_GELU_OP
VIT_GELU_HD float bitsToFloat(int32_t b) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
#endif
}

constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;  // 2 sqrt(2/pi)
constexpr float kCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

// exp(w) for w in [-87, 0] (cpu/gelu_math.h expCore): round(w / ln 2) by the 1.5 * 2^23 trick,
// r = w - n ln 2 in two parts, Taylor to degree 7, times 2^n built from its bits.
VIT_GELU_HD float expCore(float w) {
  const float n = sub(add(mul(w, 1.4426950408889634f), 12582912.0f), 12582912.0f);
  float r = sub(w, mul(n, 0.693145751953125f));
  r = sub(r, mul(n, 1.428606765330187e-06f));
  float p = 1.0f / 5040.0f;  // constants divided at compile time, correctly rounded as on the CPU
  p = add(mul(p, r), 1.0f / 720.0f);
  p = add(mul(p, r), 1.0f / 120.0f);
  p = add(mul(p, r), 1.0f / 24.0f);
  p = add(mul(p, r), 1.0f / 6.0f);
  p = add(mul(p, r), 0.5f);
  p = add(mul(p, r), 1.0f);
  p = add(mul(p, r), 1.0f);
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 0]
  return mul(p, bitsToFloat(bits));
}

// exp(v) for v <= 0, gradual underflow below -87 through exp(v/2)^2 (cpu/gelu_math.h).
VIT_GELU_HD float expNonPositive(float v) {
  const bool deep = v < -87.0f;
  const float half = mul(0.5f, v);
  float w = deep ? half : v;
  w = w < -87.0f ? -87.0f : w;
  const float e = expCore(w);
  const float sq = mul(e, e);
  const float r = deep ? sq : e;
  return v < -174.0f ? 0.0f : r;
}

VIT_GELU_HD float absF(float x) { return x < 0.0f ? -x : x; }
// 2 sqrt(2/pi) x (1 + 0.044715 x^2), in the CPU's association: ((k x) (1 + ((c x) x))).
VIT_GELU_HD float zOf(float x) {
  return mul(mul(kTwoSqrt2OverPi, x), add(1.0f, mul(mul(kCubic, x), x)));
}
VIT_GELU_HD float dzdx(float x) {
  return mul(kTwoSqrt2OverPi, add(1.0f, mul(mul(mul(3.0f, kCubic), x), x)));
}

// x sigmoid(z): the tanh-form GELU.
VIT_GELU_HD float geluTanh(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-absF(z));
  const float num = z >= 0.0f ? 1.0f : t;
  return mul(x, div(num, add(1.0f, t)));
}

VIT_GELU_HD float geluTanhGrad(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-absF(z));
  const float inv = div(1.0f, add(1.0f, t));
  const float num = z >= 0.0f ? 1.0f : t;
  const float s = mul(num, inv);
  const float sPrime = mul(mul(t, inv), inv);
  return add(s, mul(mul(x, sPrime), dzdx(x)));
}

// Phi(x) = 0.5 erfc(-x / sqrt 2): erfc keeps the negative tail's digits.
VIT_GELU_HD float phiCdf(float x) { return mul(0.5f, ::erfcf(mul(-x, kInvSqrt2))); }
VIT_GELU_HD float geluErf(float x) { return mul(x, phiCdf(x)); }
VIT_GELU_HD float geluErfGrad(float x) {
  return add(phiCdf(x), mul(mul(x, kInvSqrt2Pi), ::expf(mul(mul(-0.5f, x), x))));
}

// Form 0 = tanh, 1 = erf (GeluForm), as a template parameter so each kernel has one branch-free body.
template <int kForm>
VIT_GELU_HD float gelu(float x) {
  return kForm == 0 ? geluTanh(x) : geluErf(x);
}
template <int kForm>
VIT_GELU_HD float geluGrad(float x) {
  return kForm == 0 ? geluTanhGrad(x) : geluErfGrad(x);
}

}  // namespace vit::cuda::gelu_math
