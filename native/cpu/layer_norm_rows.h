// The per-row work of layer_norm_fwd / layer_norm_bwd, compiled twice: into layer_norm.cc
// (baseline x86-64) and layer_norm_avx512.cc (AVX-512), chosen per call by isa.h. Internal linkage
// and no includes with external inline functions (see isa_storage.h). x, y, dy, dx, dresidual are
// [rows, dim] of T (float or bf16 bits), each with its own row layout (lib/kernels/records.ts RowLayout); scale,
// bias, mean, rstd and the partial sums are f32 and dense.
#pragma once

#include <cstdint>

#include "cpu/isa_storage.h"

namespace vit::cpu {

// Arguments of the row functions: plain structs with external linkage (no member functions), so
// both builds of this header share them and the AVX-512 entry points below can be declared.

// lib/kernels/records.ts RowLayout without its default member initializers (which would make its constructor an
// inline function compiled under two ISAs): row r of an operand starts at element
// (r / groupRows) * groupStride + (r % groupRows) * dim, or r * dim when groupRows == 0.
struct NormRowLayout {
  int64_t groupRows;
  int64_t groupStride;
};

struct NormFwdRows {
  int64_t dim;
  float eps;
  bool center;
  const float* scale;  // [dim]
  const float* bias;   // [dim] or nullptr
  float* mean;         // [rows] or nullptr
  float* rstd;         // [rows] or nullptr
  NormRowLayout xLayout, yLayout;
};

struct NormBwdRows {
  int64_t dim;
  bool center;
  const float* scale;  // [dim]
  const float* mean;   // [rows], read when center
  const float* rstd;   // [rows]
  NormRowLayout xLayout, dyLayout, dxLayout, dresidualLayout;
};

namespace {

// A sum of n terms in kRowLanes independent partial sums, combined in a fixed tree: without
// -ffast-math the compiler may not reorder one running sum, so this is what lets the loop
// vectorize; the order of additions depends on n alone (never on threads).
constexpr int kRowLanes = 16;

// The first element of row r. kDense (every operand of the call dense, decided once per call) is
// the plain r * dim at compile time: rows of a few elements (dim 8) are short enough that even a
// predicted branch per operand and row shows in the dense kernel's time.
template <bool kDense>
inline int64_t rowStart(const NormRowLayout& l, int64_t dim, int64_t r) {
  if (kDense || l.groupRows == 0) return r * dim;
  return (r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim;
}

inline bool isDense(const NormRowLayout& l) { return l.groupRows == 0; }

template <typename Term>
inline float rowSum(int64_t n, const Term& term) {
  float acc[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes) {
    for (int l = 0; l < kRowLanes; ++l) acc[l] += term(j + l);
  }
  for (int l = 0; j < n; ++j, ++l) acc[l] += term(j);
  for (int width = kRowLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  }
  return acc[0];
}

// Rows [r0, r1): three passes over each (mean, variance about the mean, normalize). The two-pass
// variance avoids the cancellation of E[x^2] - E[x]^2 on rows with a large mean; the second pass
// re-reads the row from cache.
// Two sums of n terms in one pass, each in the lanes and order of rowSum.
template <typename Terms>
inline void rowSum2(int64_t n, const Terms& terms, float* sumA, float* sumB) {
  float a[kRowLanes] = {}, b[kRowLanes] = {};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes) {
    for (int l = 0; l < kRowLanes; ++l) terms(j + l, &a[l], &b[l]);
  }
  for (int l = 0; j < n; ++j, ++l) terms(j, &a[l], &b[l]);
  for (int width = kRowLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) {
      a[l] += a[l + width];
      b[l] += b[l + width];
    }
  }
  *sumA = a[0];
  *sumB = b[0];
}

// noinline: each variant is compiled as its own function, as the dense rows were before layouts
// existed (inlined side by side, the dense loops of dim 8 lost 6-15% to the changed code layout).
template <typename T, bool kDense>
__attribute__((noinline)) void normFwdRowsIn(const NormFwdRows& p, const T* x0, T* y0, int64_t r0, int64_t r1) {
  const int64_t d = p.dim;
  const float invD = 1.0f / static_cast<float>(d);
  const float* __restrict scale = p.scale;
  const float* __restrict bias = p.bias;
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict x = x0 + rowStart<kDense>(p.xLayout, d, r);
    T* __restrict y = y0 + rowStart<kDense>(p.yLayout, d, r);
    float mu = 0.0f;
    if (p.center) mu = rowSum(d, [&](int64_t j) { return isaLoad(x, j); }) * invD;
    const float var = rowSum(d, [&](int64_t j) {
                        float c = isaLoad(x, j) - mu;
                        return c * c;
                      }) * invD;
    const float rs = 1.0f / __builtin_sqrtf(var + p.eps);
    if (bias) {
      for (int64_t j = 0; j < d; ++j) isaStore(y, j, (isaLoad(x, j) - mu) * rs * scale[j] + bias[j]);
    } else {
      for (int64_t j = 0; j < d; ++j) isaStore(y, j, (isaLoad(x, j) - mu) * rs * scale[j]);
    }
    if (p.mean) p.mean[r] = mu;
    if (p.rstd) p.rstd[r] = rs;
  }
}

template <typename T>
void normFwdRows(const NormFwdRows& p, const T* x0, T* y0, int64_t r0, int64_t r1) {
  if (isDense(p.xLayout) && isDense(p.yLayout)) {
    normFwdRowsIn<T, true>(p, x0, y0, r0, r1);
  } else {
    normFwdRowsIn<T, false>(p, x0, y0, r0, r1);
  }
}

// Rows [r0, r1): dx of each (plus dresidual when kResidual), and the block's partial sums of
// dy * xhat and dy (overwritten; dbiasPart may be nullptr). Two passes over each row, both from
// cache: the sums mean(g xhat) and mean(g), then dx and the partials; xhat and g = dy * scale are
// recomputed rather than stored.
template <typename T, bool kDense, bool kResidual>
__attribute__((noinline)) void normBwdRowsIn(const NormBwdRows& p, const T* x0, const T* dy0, const T* dres0, T* dx0,
                   int64_t r0, int64_t r1, float* dscalePart, float* dbiasPart) {
  const int64_t d = p.dim;
  const float invD = 1.0f / static_cast<float>(d);
  const float* __restrict scale = p.scale;
  float* __restrict ds = dscalePart;
  float* __restrict db = dbiasPart;
  for (int64_t j = 0; j < d; ++j) ds[j] = 0.0f;
  if (db) {
    for (int64_t j = 0; j < d; ++j) db[j] = 0.0f;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const T* __restrict x = x0 + rowStart<kDense>(p.xLayout, d, r);
    const T* __restrict dy = dy0 + rowStart<kDense>(p.dyLayout, d, r);
    const float mu = p.center ? p.mean[r] : 0.0f;
    const float rs = p.rstd[r];
    float sumGx, sumG;
    rowSum2(
        d,
        [&](int64_t j, float* gx, float* g) {
          const float gj = isaLoad(dy, j) * scale[j];
          *gx += gj * ((isaLoad(x, j) - mu) * rs);
          *g += gj;
        },
        &sumGx, &sumG);
    const float meanGx = sumGx * invD;
    const float meanG = p.center ? sumG * invD : 0.0f;
    if constexpr (kResidual) {
      // dx may be dresidual (in place): neither pointer is __restrict, and each element is read
      // before it is written.
      const T* dres = dres0 + rowStart<kDense>(p.dresidualLayout, d, r);
      T* dx = dx0 + rowStart<kDense>(p.dxLayout, d, r);
      for (int64_t j = 0; j < d; ++j) {
        const float dyj = isaLoad(dy, j);
        const float h = (isaLoad(x, j) - mu) * rs;
        const float g = rs * (dyj * scale[j] - meanG - h * meanGx);
        isaStore(dx, j, isaLoad(dres, j) + g);
        ds[j] += dyj * h;
      }
    } else {
      T* __restrict dx = dx0 + rowStart<kDense>(p.dxLayout, d, r);
      for (int64_t j = 0; j < d; ++j) {
        const float dyj = isaLoad(dy, j);
        const float h = (isaLoad(x, j) - mu) * rs;
        isaStore(dx, j, rs * (dyj * scale[j] - meanG - h * meanGx));
        ds[j] += dyj * h;
      }
    }
    if (db) {
      for (int64_t j = 0; j < d; ++j) db[j] += isaLoad(dy, j);
    }
  }
}

template <typename T>
void normBwdRows(const NormBwdRows& p, const T* x0, const T* dy0, const T* dres0, T* dx0,
                 int64_t r0, int64_t r1, float* dscalePart, float* dbiasPart) {
  const bool dense = isDense(p.xLayout) && isDense(p.dyLayout) && isDense(p.dxLayout) &&
                     (!dres0 || isDense(p.dresidualLayout));
  if (dense && !dres0) {
    normBwdRowsIn<T, true, false>(p, x0, dy0, dres0, dx0, r0, r1, dscalePart, dbiasPart);
  } else if (dense) {
    normBwdRowsIn<T, true, true>(p, x0, dy0, dres0, dx0, r0, r1, dscalePart, dbiasPart);
  } else if (!dres0) {
    normBwdRowsIn<T, false, false>(p, x0, dy0, dres0, dx0, r0, r1, dscalePart, dbiasPart);
  } else {
    normBwdRowsIn<T, false, true>(p, x0, dy0, dres0, dx0, r0, r1, dscalePart, dbiasPart);
  }
}

}  // namespace

// The same rows compiled with AVX-512 (layer_norm_avx512.cc); call only when activeIsa() >= Avx512.
void normFwdRowsAvx512(const NormFwdRows& p, const float* x, float* y, int64_t r0, int64_t r1);
void normFwdRowsAvx512(const NormFwdRows& p, const uint16_t* x, uint16_t* y, int64_t r0, int64_t r1);
void normBwdRowsAvx512(const NormBwdRows& p, const float* x, const float* dy, const float* dres,
                       float* dx, int64_t r0, int64_t r1, float* dscalePart, float* dbiasPart);
void normBwdRowsAvx512(const NormBwdRows& p, const uint16_t* x, const uint16_t* dy,
                       const uint16_t* dres, uint16_t* dx, int64_t r0, int64_t r1,
                       float* dscalePart, float* dbiasPart);

}  // namespace vit::cpu
