// GELU forward and backward on a column range of a row-major matrix (kernels.h GeluFwdArgs,
// GeluBwdArgs); the full range is the plain elementwise GELU. f32 or bf16 storage, f32 math.
//
// Tanh form, written through the logistic function so nothing cancels:
//   0.5 (1 + tanh(u)) = sigmoid(2u),  z = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3)
//   gelu(x) = x * sigmoid(z),  gelu'(x) = sigmoid(z) + x * sigmoid(z) (1 - sigmoid(z)) * dz/dx
// with sigmoid and sigmoid (1 - sigmoid) evaluated from t = exp(-|z|) <= 1, which keeps full
// relative accuracy in both tails (1 + tanh(u) for very negative x would lose every digit).
// exp is a branch-free polynomial (below) so these loops vectorize; libm's expf/tanhf would not.
// Erf form: gelu(x) = x Phi(x), Phi(x) = 0.5 erfc(-x / sqrt 2) (erfc, not 1 + erf, for the same
// reason), gelu'(x) = Phi(x) + x phi(x). These use libm and are scalar.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/status.h"
#include "cpu/storage_f32.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kParallelElements = 1 << 14;
constexpr int64_t kChunk = 1 << 13;  // elements per task of the elementwise (full-range) case

constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;  // 2 sqrt(2/pi)
constexpr float kCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

// exp(w) for w in [-87, 0], relative error a few ulp: the result stays in the normal range.
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
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// exp(v) for v <= 0. Below -87 the result leaves the normal range; it is then exp(v/2)^2, which
// underflows gradually through the subnormals like the true value (gelu(x) for x around -10 is
// x * exp(z) ~ 1e-37 and must not be flushed to zero). Selects, not branches, so loops vectorize.
inline float expNonPositive(float v) {
  const bool deep = v < -87.0f;
  float w = deep ? 0.5f * v : v;
  w = w < -87.0f ? -87.0f : w;  // below exp(-174) the square is 0 in f32 anyway
  const float e = expCore(w);
  return deep ? (v < -174.0f ? 0.0f : e * e) : e;
}

inline float dzdx(float x) { return kTwoSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x); }
inline float zOf(float x) { return kTwoSqrt2OverPi * x * (1.0f + kCubic * x * x); }

inline float geluTanh(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-std::fabs(z));
  const float s = (z >= 0.0f ? 1.0f : t) / (1.0f + t);  // sigmoid(z)
  return x * s;
}

inline float geluTanhGrad(float x) {
  const float z = zOf(x);
  const float t = expNonPositive(-std::fabs(z));
  const float inv = 1.0f / (1.0f + t);
  const float s = (z >= 0.0f ? 1.0f : t) * inv;
  const float sPrime = t * inv * inv;  // sigmoid(z) (1 - sigmoid(z)), symmetric in z
  return s + x * sPrime * dzdx(x);
}

inline float phiCdf(float x) { return 0.5f * std::erfc(-x * kInvSqrt2); }
inline float geluErf(float x) { return x * phiCdf(x); }
inline float geluErfGrad(float x) {
  return phiCdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

// One contiguous span of a row: out[j] = f(in[j]) (forward) for j in [0, n).
template <typename T, float (*F)(float)>
void mapSpan(const T* in, T* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) storeF32(out, j, F(loadF32(in, j)));
}

// dx[j] = dy[j] * F'(x[j]).
template <typename T, float (*G)(float)>
void gradSpan(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) storeF32(dx, j, loadF32(dy, j) * G(loadF32(x, j)));
}

template <typename T>
void copySpan(const T* in, T* out, int64_t n) {
  if (in != out && n > 0) std::memcpy(out, in, sizeof(T) * n);
}

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

// Runs body(r0, r1, c0, c1) over the matrix: the full-range case is one flat array cut into chunks
// (so a single long row is still split), a sub-range is cut by rows.
template <typename Body>
void forTiles(Stream stream, int64_t rows, int64_t cols, bool fullRange, const Body& body) {
  const int64_t total = rows * cols;
  if (fullRange) {
    const int64_t chunks = (total + kChunk - 1) / kChunk;
    auto run = [&](int64_t k0, int64_t k1) {
      body(k0 * kChunk, std::min(total, k1 * kChunk));
    };
    if (total < kParallelElements) {
      run(0, chunks);
    } else {
      poolOf(stream).parallelFor(chunks, run);
    }
  } else if (total < kParallelElements) {
    body(0, rows);
  } else {
    poolOf(stream).parallelFor(rows, body);
  }
}

template <typename T, float (*F)(float)>
void forwardTyped(Stream stream, const GeluFwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  forTiles(stream, a.rows, a.cols, full, [&](int64_t i0, int64_t i1) {
    if (full) {  // [i0, i1) are flat element indices
      mapSpan<T, F>(x + i0, y + i0, i1 - i0);
      return;
    }
    for (int64_t r = i0; r < i1; ++r) {  // [i0, i1) are rows
      const T* in = x + r * a.cols;
      T* out = y + r * a.cols;
      copySpan(in, out, a.colBegin);
      mapSpan<T, F>(in + a.colBegin, out + a.colBegin, a.colEnd - a.colBegin);
      copySpan(in + a.colEnd, out + a.colEnd, a.cols - a.colEnd);
    }
  });
}

template <typename T, float (*G)(float)>
void backwardTyped(Stream stream, const GeluBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  forTiles(stream, a.rows, a.cols, full, [&](int64_t i0, int64_t i1) {
    if (full) {
      gradSpan<T, G>(x + i0, dy + i0, dx + i0, i1 - i0);
      return;
    }
    for (int64_t r = i0; r < i1; ++r) {
      const int64_t o = r * a.cols;
      copySpan(dy + o, dx + o, a.colBegin);  // outside the range y = x, so dx = dy
      gradSpan<T, G>(x + o + a.colBegin, dy + o + a.colBegin, dx + o + a.colBegin,
                     a.colEnd - a.colBegin);
      copySpan(dy + o + a.colEnd, dx + o + a.colEnd, a.cols - a.colEnd);
    }
  });
}

void checkRange(DType dtype, int64_t cols, int64_t c0, int64_t c1, const char* kernel) {
  if (dtype != DType::F32 && dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " supports f32 and bf16",
                "f32 or bf16", dtypeName(dtype));
  }
  if (c0 < 0 || c0 > c1 || c1 > cols) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " column range is out of bounds",
                "0 <= colBegin <= colEnd <= " + std::to_string(cols),
                "[" + std::to_string(c0) + ", " + std::to_string(c1) + ")");
  }
}

}  // namespace

void geluFwd(Stream stream, const GeluFwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_fwd");
  if (a.rows == 0 || a.cols == 0) return;
  const bool tanhForm = a.form == GeluForm::Tanh;
  if (a.dtype == DType::F32) {
    tanhForm ? forwardTyped<float, geluTanh>(stream, a) : forwardTyped<float, geluErf>(stream, a);
  } else {
    tanhForm ? forwardTyped<uint16_t, geluTanh>(stream, a)
             : forwardTyped<uint16_t, geluErf>(stream, a);
  }
}

void geluBwd(Stream stream, const GeluBwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_bwd");
  if (a.rows == 0 || a.cols == 0) return;
  const bool tanhForm = a.form == GeluForm::Tanh;
  if (a.dtype == DType::F32) {
    tanhForm ? backwardTyped<float, geluTanhGrad>(stream, a)
             : backwardTyped<float, geluErfGrad>(stream, a);
  } else {
    tanhForm ? backwardTyped<uint16_t, geluTanhGrad>(stream, a)
             : backwardTyped<uint16_t, geluErfGrad>(stream, a);
  }
}

}  // namespace vit::cpu
