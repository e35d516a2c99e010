// Turning Philox words into values of the init distributions. Shared by the CPU and CUDA backends
// so that both produce the same bits: only IEEE-754 double operations that are correctly rounded
// everywhere (+, -, *, /, sqrt) are used, through dadd/dmul so that CUDA cannot contract them into
// fused multiply-adds (the CPU build is baseline x86-64, which has no FMA to contract into), and
// log/exp are computed here rather than by a math library whose last bits differ between platforms.
//
// Mappings, for one 32-bit word w:
//   uniform [a, b):  u = (w >> 8) 2^-24 in [0, 1) (exact in f32); x = a + (b - a) u in double,
//                    rounded to the storage type, then moved below b if rounding reached b.
//   normal:          u = (w + 1/2) 2^-32 in (0, 1); z = Phi^-1(u); x = a + b z.
//   truncated normal: u as for normal, p = Phi(-2) + u (Phi(2) - Phi(-2)), z = Phi^-1(p) clamped to
//                    [-2, 2]; x = a + b z. One word per element, no rejection loop.
// Phi^-1 starts from Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) and takes three Newton steps on
// Phi(z) = p, with Phi(z) = 1/2 + phi(z) (z + z^3/3 + z^5/(3*5) + ...) (a series of positive terms,
// summed to double precision); the result is accurate far beyond f32 for every p this can see
// (|z| <= 6.3).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/bf16.h"

namespace vit::random_dist {

VIT_HD double dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

VIT_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

VIT_HD double dsqrt(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return __builtin_sqrt(x);
#endif
}

VIT_HD double bitsToDouble(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
#endif
}

VIT_HD uint64_t doubleToBits(double d) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(d));
#else
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
#endif
}

constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split so k * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;

// exp(x) for x in [-30, 0]: x = k ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor series to r^16.
VIT_HD double expNeg(double x) {
  double kf = static_cast<double>(static_cast<int64_t>(dadd(dmul(x, 1.4426950408889634), -0.5)));
  double r = dadd(dadd(x, -dmul(kf, kLn2Hi)), -dmul(kf, kLn2Lo));
  double sum = 1.0, term = 1.0;
  for (int n = 1; n <= 16; ++n) {
    term = dmul(term, r) / n;
    sum = dadd(sum, term);
  }
  int64_t k = static_cast<int64_t>(kf);
  return dmul(sum, bitsToDouble(static_cast<uint64_t>(1023 + k) << 52));
}

// log(x) for a positive normal x: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, series to s^41.
VIT_HD double logPositive(double x) {
  uint64_t bits = doubleToBits(x);
  int64_t e = static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
  double m = bitsToDouble((bits & 0x000fffffffffffffull) | (1023ull << 52));  // [1, 2)
  if (m > 1.4142135623730951) {
    m = dmul(m, 0.5);
    e += 1;
  }
  double s = dadd(m, -1.0) / dadd(m, 1.0);
  double s2 = dmul(s, s), term = s, sum = s;
  for (int n = 3; n <= 41; n += 2) {
    term = dmul(term, s2);
    sum = dadd(sum, term / n);
  }
  double ef = static_cast<double>(e);
  return dadd(dadd(dmul(ef, kLn2Hi), dmul(ef, kLn2Lo)), dmul(2.0, sum));
}

constexpr double kInvSqrt2Pi = 0.3989422804014327;

VIT_HD double normalPdf(double z) { return dmul(kInvSqrt2Pi, expNeg(dmul(-0.5, dmul(z, z)))); }

// Phi(z) = 1/2 + phi(z) S(z), S(z) = sum_n z^(2n+1) / (1 * 3 * ... * (2n+1)), |z| <= ~7.
VIT_HD double normalCdf(double z) {
  double z2 = dmul(z, z), term = z, sum = z;
  for (int n = 3; n < 400; n += 2) {
    term = dmul(term, z2) / n;
    double next = dadd(sum, term);
    if (next == sum) break;
    sum = next;
  }
  return dadd(0.5, dmul(normalPdf(z), sum));
}

// Phi^-1(p) for p in (0, 1), p >= 2^-40.
VIT_HD double normalQuantile(double p) {
  bool upper = p > 0.5;
  double q = upper ? dadd(1.0, -p) : p;  // exact (Sterbenz) for p in [1/2, 1)
  double t = dsqrt(dmul(-2.0, logPositive(q)));
  double num = dadd(2.515517, dmul(t, dadd(0.802853, dmul(t, 0.010328))));
  double den = dadd(1.0, dmul(t, dadd(1.432788, dmul(t, dadd(0.189269, dmul(t, 0.001308))))));
  double z = -dadd(t, -(num / den));  // the lower-tail quantile, z <= 0
  for (int it = 0; it < 3; ++it) z = dadd(z, -(dadd(normalCdf(z), -q) / normalPdf(z)));
  return upper ? -z : z;
}

// Phi(-2) = erfc(sqrt 2) / 2, to double precision.
constexpr double kPhiMinus2 = 0.02275013194817921;

VIT_HD double uniform01(uint32_t w) { return static_cast<double>(w >> 8) * (1.0 / 16777216.0); }
VIT_HD double openUniform01(uint32_t w) {
  return dadd(static_cast<double>(w), 0.5) * (1.0 / 4294967296.0);
}

VIT_HD double standardNormal(uint32_t w) { return normalQuantile(openUniform01(w)); }

VIT_HD double truncatedStandardNormal(uint32_t w) {
  double p = dadd(kPhiMinus2, dmul(openUniform01(w), dadd(1.0, -2.0 * kPhiMinus2)));
  double z = normalQuantile(p);
  return z < -2.0 ? -2.0 : (z > 2.0 ? 2.0 : z);
}

// Uniform's half-open range [a, b) in the storage type: a value that rounds onto b (or, in bf16,
// below a) is replaced by its neighbour inside the range. Shared by the CPU and CUDA kernels so
// both clamp to the same values.
struct UniformBounds {
  float belowF32;      // the largest f32 strictly below b
  uint16_t belowBf16;  // the largest bf16 strictly below b (b rounds up to it when not a bf16)
  uint16_t aboveBf16;  // the smallest bf16 at or above a
};

inline UniformBounds uniformBounds(float a, float b) {
  // The storage neighbours of a value: the next one toward -inf (below) or +inf (above).
  auto belowF32 = [](float hi) {
    const uint32_t u = floatBits(hi);
    if (hi > 0.0f) return bitsFloat(u - 1);
    if (hi == 0.0f) return -bitsFloat(1u);  // the smallest negative subnormal
    return bitsFloat(u + 1);
  };
  auto belowBf16 = [](uint16_t hi) -> uint16_t {
    const float h = bf16ToFloat(hi);
    if (h > 0.0f) return static_cast<uint16_t>(hi - 1);
    if (h == 0.0f) return 0x8001;
    return static_cast<uint16_t>(hi + 1);
  };
  auto aboveBf16 = [](uint16_t lo) -> uint16_t {
    const float l = bf16ToFloat(lo);
    if (l > 0.0f) return static_cast<uint16_t>(lo + 1);
    if (l == 0.0f) return 0x0001;
    return static_cast<uint16_t>(lo - 1);
  };
  const uint16_t hiBits = floatToBf16(b), loBits = floatToBf16(a);
  UniformBounds u;
  u.belowF32 = belowF32(b);
  u.belowBf16 = bf16ToFloat(hiBits) < b ? hiBits : belowBf16(hiBits);
  u.aboveBf16 = bf16ToFloat(loBits) >= a ? loBits : aboveBf16(loBits);
  return u;
}

}  // namespace vit::random_dist
