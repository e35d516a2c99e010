// GELU forward and backward on a column range of a row-major matrix (lib/kernels/gelu_fwd.ts GeluFwdArgs,
// GeluBwdArgs); the full range is the plain elementwise GELU. f32 or bf16 storage, f32 math.
// Rows may be strided (column windows of wider matrices) and a bias may be added inside the range
// before the GELU (the add in f32); the dense whole-range case without bias stays one flat array.
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
#include <string>
#include <vector>

#include "core/status.h"
#include "cpu/gelu_epilogue.h"
#include "cpu/gelu_math.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kParallelElements = 1 << 14;
constexpr int64_t kChunk = 1 << 13;  // elements per task (at most; one row piece)

constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

inline float phiCdf(float x) { return 0.5f * std::erfc(-x * kInvSqrt2); }
inline float geluErf(float x) { return x * phiCdf(x); }
inline float geluErfGrad(float x) {
  return phiCdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

// Spans of one row (or of the flat array): y = gelu(x [+ b]), dx = dy * gelu'(x [+ b]), over n
// elements; b (f32, aligned with the span) only in the *Bias forms.
template <typename T>
using FwdSpan = void (*)(const T* x, T* y, int64_t n);
template <typename T>
using BwdSpan = void (*)(const T* x, const T* dy, T* dx, int64_t n);
template <typename T>
using FwdBiasSpan = void (*)(const T* x, const float* b, T* y, int64_t n);
template <typename T>
using BwdBiasSpan = void (*)(const T* x, const float* b, const T* dy, T* dx, int64_t n);

template <typename T>
void erfFwdSpan(const T* x, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(y, j, geluErf(isaLoad(x, j)));
}

template <typename T>
void erfBwdSpan(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(dx, j, isaLoad(dy, j) * geluErfGrad(isaLoad(x, j)));
}

template <typename T>
void erfFwdBiasSpan(const T* x, const float* b, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) isaStore(y, j, geluErf(isaLoad(x, j) + b[j]));
}

template <typename T>
void erfBwdBiasSpan(const T* x, const float* b, const T* dy, T* dx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    isaStore(dx, j, isaLoad(dy, j) * geluErfGrad(isaLoad(x, j) + b[j]));
  }
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
FwdBiasSpan<T> fwdBiasSpanFor(GeluForm form) {
  if (form == GeluForm::Erf) return erfFwdBiasSpan<T>;
  if (activeIsa() >= Isa::Avx512) return geluTanhFwdBiasAvx512;
  return tanhFwdBiasSpan<T>;
}

template <typename T>
BwdBiasSpan<T> bwdBiasSpanFor(GeluForm form) {
  if (form == GeluForm::Erf) return erfBwdBiasSpan<T>;
  if (activeIsa() >= Isa::Avx512) return geluTanhBwdBiasAvx512;
  return tanhBwdBiasSpan<T>;
}

template <typename T>
void copySpan(const T* in, T* out, int64_t n) {
  if (in != out && n > 0) std::memcpy(out, in, sizeof(T) * n);
}

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

// Runs body(r, c0, c1) on pieces of at most kChunk columns of each row, so a single long row is
// still split across threads. The dense whole-range case calls this with one row of rows * cols.
template <typename Body>
void forTiles(Stream stream, int64_t rows, int64_t cols, const Body& body) {
  const int64_t perRow = std::max<int64_t>(1, (cols + kChunk - 1) / kChunk);
  auto run = [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t r = k / perRow, c0 = (k % perRow) * kChunk;
      body(r, c0, std::min(cols, c0 + kChunk));
    }
  };
  if (rows * cols < kParallelElements) {
    run(0, rows * perRow);
  } else {
    poolOf(stream).parallelFor(rows * perRow, run);
  }
}

// The columns of [c0, c1) before, inside and after the GELU range [g0, g1): three (possibly empty)
// pieces, in order.
struct Pieces {
  int64_t before0, before1, in0, in1, after0, after1;
};
Pieces piecesOf(int64_t c0, int64_t c1, int64_t g0, int64_t g1) {
  Pieces p;
  p.before0 = c0;
  p.before1 = std::max(c0, std::min(c1, g0));
  p.in0 = std::max(c0, g0);
  p.in1 = std::max(p.in0, std::min(c1, g1));
  p.after0 = std::max(c0, std::max(g1, p.in1));
  p.after1 = std::max(p.after0, c1);
  return p;
}

// The bias as f32 values aligned with the range (a bf16 bias widened once per call, exactly).
const float* biasAsF32(const void* bias, DType type, int64_t n, std::vector<float>* storage) {
  if (bias == nullptr) return nullptr;
  if (type == DType::F32) return static_cast<const float*>(bias);
  storage->resize(static_cast<size_t>(n));
  const uint16_t* b = static_cast<const uint16_t*>(bias);
  for (int64_t j = 0; j < n; ++j) (*storage)[j] = isaLoad(b, j);
  return storage->data();
}

inline int64_t strideOr(int64_t stride, int64_t cols) { return stride == 0 ? cols : stride; }

template <typename T>
void forwardTyped(Stream stream, const GeluFwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const int64_t xs = strideOr(a.xStride, a.cols), ys = strideOr(a.yStride, a.cols);
  std::vector<float> widened;
  const float* bias = biasAsF32(a.bias, a.biasType, a.colEnd - a.colBegin, &widened);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  if (full && bias == nullptr && xs == a.cols && ys == a.cols) {
    // Dense and whole: one flat array (the plain elementwise GELU's speed).
    const FwdSpan<T> span = fwdSpanFor<T>(a.form);
    forTiles(stream, 1, a.rows * a.cols,
             [&](int64_t, int64_t c0, int64_t c1) { span(x + c0, y + c0, c1 - c0); });
    return;
  }
  const FwdSpan<T> plain = fwdSpanFor<T>(a.form);
  const FwdBiasSpan<T> biased = fwdBiasSpanFor<T>(a.form);
  forTiles(stream, a.rows, a.cols, [&](int64_t r, int64_t c0, int64_t c1) {
    const T* in = x + r * xs;
    T* out = y + r * ys;
    const Pieces p = piecesOf(c0, c1, a.colBegin, a.colEnd);
    copySpan(in + p.before0, out + p.before0, p.before1 - p.before0);
    if (p.in1 > p.in0) {
      if (bias != nullptr) {
        biased(in + p.in0, bias + (p.in0 - a.colBegin), out + p.in0, p.in1 - p.in0);
      } else {
        plain(in + p.in0, out + p.in0, p.in1 - p.in0);
      }
    }
    copySpan(in + p.after0, out + p.after0, p.after1 - p.after0);
  });
}

template <typename T>
void backwardTyped(Stream stream, const GeluBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const int64_t xs = strideOr(a.xStride, a.cols), dys = strideOr(a.dyStride, a.cols),
                dxs = strideOr(a.dxStride, a.cols);
  std::vector<float> widened;
  const float* bias = biasAsF32(a.bias, a.biasType, a.colEnd - a.colBegin, &widened);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  if (full && bias == nullptr && xs == a.cols && dys == a.cols && dxs == a.cols) {
    const BwdSpan<T> span = bwdSpanFor<T>(a.form);
    forTiles(stream, 1, a.rows * a.cols, [&](int64_t, int64_t c0, int64_t c1) {
      span(x + c0, dy + c0, dx + c0, c1 - c0);
    });
    return;
  }
  const BwdSpan<T> plain = bwdSpanFor<T>(a.form);
  const BwdBiasSpan<T> biased = bwdBiasSpanFor<T>(a.form);
  forTiles(stream, a.rows, a.cols, [&](int64_t r, int64_t c0, int64_t c1) {
    const T* xr = x + r * xs;
    const T* dyr = dy + r * dys;
    T* dxr = dx + r * dxs;
    const Pieces p = piecesOf(c0, c1, a.colBegin, a.colEnd);
    // Outside the range y = x, so dx = dy.
    copySpan(dyr + p.before0, dxr + p.before0, p.before1 - p.before0);
    if (p.in1 > p.in0) {
      if (bias != nullptr) {
        biased(xr + p.in0, bias + (p.in0 - a.colBegin), dyr + p.in0, dxr + p.in0, p.in1 - p.in0);
      } else {
        plain(xr + p.in0, dyr + p.in0, dxr + p.in0, p.in1 - p.in0);
      }
    }
    copySpan(dyr + p.after0, dxr + p.after0, p.after1 - p.after0);
  });
}

}  // namespace

void geluInPlace(GeluForm form, float* v, int64_t n) {
  if (n > 0) fwdSpanFor<float>(form)(v, v, n);  // each element is read before it is written
}

void geluFwd(Stream stream, const GeluFwdArgs& a) {
  if (a.rows == 0 || a.cols == 0) return;
  if (a.dtype == DType::F32) {
    forwardTyped<float>(stream, a);
  } else {
    forwardTyped<uint16_t>(stream, a);
  }
}

void geluBwd(Stream stream, const GeluBwdArgs& a) {
  if (a.rows == 0 || a.cols == 0) return;
  if (a.dtype == DType::F32) {
    backwardTyped<float>(stream, a);
  } else {
    backwardTyped<uint16_t>(stream, a);
  }
}

}  // namespace vit::cpu
