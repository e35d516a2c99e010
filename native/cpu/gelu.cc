// GELU forward and backward on a column range of a row-major matrix (kernels.h GeluFwdArgs,
// GeluBwdArgs); the full range is the plain elementwise GELU. f32 or bf16 storage, f32 math.
// Tanh form: the branch-free math of gelu_math.h, its loops compiled here for baseline x86-64 and
// in gelu_avx512.cc for AVX-512 (chosen per call by isa.h). Erf form: gelu(x) = x Phi(x),
// Phi(x) = 0.5 erfc(-x / sqrt 2) (erfc, not 1 + erf, so the negative tail keeps its digits),
// gelu'(x) = Phi(x) + x phi(x); libm, scalar.
// -fno-trapping-math lets the selects of gelu_math.h become vector blends (see there); this file
// reads no floating-point exception flags.
#pragma GCC optimize("no-trapping-math")

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/status.h"
#include "cpu/gelu_epilogue.h"
#include "cpu/gelu_math.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kParallelElements = 1 << 14;
constexpr int64_t kChunk = 1 << 13;  // elements per task of the elementwise (full-range) case

constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

inline float phiCdf(float x) { return 0.5f * std::erfc(-x * kInvSqrt2); }
inline float geluErf(float x) { return x * phiCdf(x); }
inline float geluErfGrad(float x) {
  return phiCdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

// Spans of one row (or of the flat array): y = gelu(x), dx = dy * gelu'(x), over n elements.
template <typename T>
using FwdSpan = void (*)(const T* x, T* y, int64_t n);
template <typename T>
using BwdSpan = void (*)(const T* x, const T* dy, T* dx, int64_t n);

template <typename T>
void erfFwdSpan(const T* x, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(y, j, geluErf(isaLoad(x, j)));
}

template <typename T>
void erfBwdSpan(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(dx, j, isaLoad(dy, j) * geluErfGrad(isaLoad(x, j)));
}

template <typename T>
FwdSpan<T> fwdSpanFor(GeluForm form) {
  if (form == GeluForm::Erf) return erfFwdSpan<T>;
  if (activeIsa() >= Isa::Avx512) return geluTanhFwdAvx512;
  return tanhFwdSpan<T>;
}

template <typename T>
BwdSpan<T> bwdSpanFor(GeluForm form) {
  if (form == GeluForm::Erf) return erfBwdSpan<T>;
  if (activeIsa() >= Isa::Avx512) return geluTanhBwdAvx512;
  return tanhBwdSpan<T>;
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

template <typename T>
void forwardTyped(Stream stream, const GeluFwdArgs& a) {
  const FwdSpan<T> span = fwdSpanFor<T>(a.form);
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  forTiles(stream, a.rows, a.cols, full, [&](int64_t i0, int64_t i1) {
    if (full) {  // [i0, i1) are flat element indices
      span(x + i0, y + i0, i1 - i0);
      return;
    }
    for (int64_t r = i0; r < i1; ++r) {  // [i0, i1) are rows
      const T* in = x + r * a.cols;
      T* out = y + r * a.cols;
      copySpan(in, out, a.colBegin);
      span(in + a.colBegin, out + a.colBegin, a.colEnd - a.colBegin);
      copySpan(in + a.colEnd, out + a.colEnd, a.cols - a.colEnd);
    }
  });
}

template <typename T>
void backwardTyped(Stream stream, const GeluBwdArgs& a) {
  const BwdSpan<T> span = bwdSpanFor<T>(a.form);
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  forTiles(stream, a.rows, a.cols, full, [&](int64_t i0, int64_t i1) {
    if (full) {
      span(x + i0, dy + i0, dx + i0, i1 - i0);
      return;
    }
    for (int64_t r = i0; r < i1; ++r) {
      const int64_t o = r * a.cols;
      copySpan(dy + o, dx + o, a.colBegin);  // outside the range y = x, so dx = dy
      span(x + o + a.colBegin, dy + o + a.colBegin, dx + o + a.colBegin,
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

void geluInPlace(GeluForm form, float* v, int64_t n) {
  if (n > 0) fwdSpanFor<float>(form)(v, v, n);  // each element is read before it is written
}

void geluFwd(Stream stream, const GeluFwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_fwd");
  if (a.rows == 0 || a.cols == 0) return;
  if (a.dtype == DType::F32) {
    forwardTyped<float>(stream, a);
  } else {
    forwardTyped<uint16_t>(stream, a);
  }
}

void geluBwd(Stream stream, const GeluBwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_bwd");
  if (a.rows == 0 || a.cols == 0) return;
  if (a.dtype == DType::F32) {
    backwardTyped<float>(stream, a);
  } else {
    backwardTyped<uint16_t>(stream, a);
  }
}

}  // namespace vit::cpu
