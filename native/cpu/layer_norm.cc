// LayerNorm / RMSNorm over the last dimension, forward and backward (lib/kernels/layer_norm_fwd.ts LayerNormFwdArgs,
// LayerNormBwdArgs). f32 or bf16 storage, f32 statistics and accumulation.
//
// The per-row work is layer_norm_rows.h, compiled here for baseline x86-64 and in
// layer_norm_avx512.cc for AVX-512 (chosen per call by isa.h). Forward: rows are independent,
// parallelFor over rows. Backward: dx is per row; dscale / dbias are sums over rows, taken per row
// block with a blocking that depends only on `rows` (kGradBlocks blocks at most), then the block
// partials are added in block order, so the result is bitwise independent of the thread count.
// Row layouts (lib/kernels/records.ts RowLayout) only move where each row is read or written: the arithmetic and
// the blocking are those of the dense rows, so a laid-out call equals the dense call on the
// gathered rows bit for bit.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/isa.h"
#include "cpu/layer_norm_rows.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

// Below this many elements the wake-up of the other threads costs more than it saves.
constexpr int64_t kParallelElements = 1 << 15;
// Row blocks of the parameter-gradient sums: enough to keep every thread of a large pool busy,
// few enough that the partials ([blocks, dim] f32) stay small next to x.
constexpr int64_t kGradBlocks = 64;

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

template <typename Body>
void forRows(Stream stream, int64_t n, int64_t elements, const Body& body) {
  if (elements < kParallelElements) {
    body(0, n);
  } else {
    poolOf(stream).parallelFor(n, body);
  }
}

void requireStorage(DType t, const char* what) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(what) + " must be f32 or bf16", "f32 or bf16",
                dtypeName(t));
  }
}

NormRowLayout rowLayout(const RowLayout& l) { return NormRowLayout{l.groupRows, l.groupStride}; }

// scale / bias in f32, whatever their storage: one conversion per call instead of one per row.
std::vector<float> widenParam(const void* p, DType type, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    out[j] = type == DType::F32 ? static_cast<const float*>(p)[j]
                                : bf16ToFloat(static_cast<const uint16_t*>(p)[j]);
  }
  return out;
}

template <typename T>
void forwardRows(bool avx512, const NormFwdRows& p, const void* x, void* y, int64_t r0, int64_t r1) {
  const T* xt = static_cast<const T*>(x);
  T* yt = static_cast<T*>(y);
  if (avx512) {
    normFwdRowsAvx512(p, xt, yt, r0, r1);
  } else {
    normFwdRows(p, xt, yt, r0, r1);
  }
}

template <typename T>
void backwardRows(bool avx512, const NormBwdRows& p, const LayerNormBwdArgs& a, int64_t r0,
                  int64_t r1, float* dscalePart, float* dbiasPart) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  const T* dres = static_cast<const T*>(a.dresidual);
  T* dx = static_cast<T*>(a.dx);
  if (avx512) {
    normBwdRowsAvx512(p, x, dy, dres, dx, r0, r1, dscalePart, dbiasPart);
  } else {
    normBwdRows(p, x, dy, dres, dx, r0, r1, dscalePart, dbiasPart);
  }
}

}  // namespace

void layerNormFwd(Stream stream, const LayerNormFwdArgs& a) {
  requireStorage(a.dtype, "layer_norm_fwd x/y");
  requireStorage(a.paramType, "layer_norm_fwd scale/bias");
  if (a.rows == 0 || a.dim == 0) return;
  std::vector<float> scale = widenParam(a.scale, a.paramType, a.dim);
  std::vector<float> bias = a.bias ? widenParam(a.bias, a.paramType, a.dim) : std::vector<float>();
  const NormFwdRows p{a.dim, a.eps, a.center, scale.data(), a.bias ? bias.data() : nullptr,
                      a.mean, a.rstd, rowLayout(a.xLayout), rowLayout(a.yLayout)};
  const bool avx512 = activeIsa() >= Isa::Avx512;
  forRows(stream, a.rows, a.rows * a.dim, [&](int64_t r0, int64_t r1) {
    if (a.dtype == DType::F32) {
      forwardRows<float>(avx512, p, a.x, a.y, r0, r1);
    } else {
      forwardRows<uint16_t>(avx512, p, a.x, a.y, r0, r1);
    }
  });
}

void layerNormBwd(Stream stream, const LayerNormBwdArgs& a) {
  requireStorage(a.dtype, "layer_norm_bwd x/dy/dx");
  requireStorage(a.paramType, "layer_norm_bwd scale");
  const int64_t d = a.dim;
  if (d == 0) return;
  if (a.rows == 0) {  // an empty sum
    std::fill(a.dscale, a.dscale + d, 0.0f);
    if (a.dbias) std::fill(a.dbias, a.dbias + d, 0.0f);
    return;
  }
  std::vector<float> scale = widenParam(a.scale, a.paramType, d);
  const int64_t blocks = std::min(a.rows, kGradBlocks);
  const bool withBias = a.dbias != nullptr;
  // [blocks, dim] partial dscale, then [blocks, dim] partial dbias.
  std::vector<float> partials(static_cast<size_t>(blocks * d * (withBias ? 2 : 1)));
  float* dscaleParts = partials.data();
  float* dbiasParts = withBias ? partials.data() + blocks * d : nullptr;
  const NormBwdRows p{d,
                      a.center,
                      scale.data(),
                      a.mean,
                      a.rstd,
                      rowLayout(a.xLayout),
                      rowLayout(a.dyLayout),
                      rowLayout(a.dxLayout),
                      rowLayout(a.dresidualLayout)};
  const bool avx512 = activeIsa() >= Isa::Avx512;
  forRows(stream, blocks, a.rows * d, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      int64_t r0 = blk * a.rows / blocks, r1 = (blk + 1) * a.rows / blocks;
      float* ds = dscaleParts + blk * d;
      float* db = withBias ? dbiasParts + blk * d : nullptr;
      if (a.dtype == DType::F32) {
        backwardRows<float>(avx512, p, a, r0, r1, ds, db);
      } else {
        backwardRows<uint16_t>(avx512, p, a, r0, r1, ds, db);
      }
    }
  });
  // Block partials in block order: the same additions for every thread count.
  forRows(stream, d, blocks * d, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      float s = dscaleParts[j];
      for (int64_t blk = 1; blk < blocks; ++blk) s += dscaleParts[blk * d + j];
      a.dscale[j] = s;
      if (withBias) {
        float t = dbiasParts[j];
        for (int64_t blk = 1; blk < blocks; ++blk) t += dbiasParts[blk * d + j];
        a.dbias[j] = t;
      }
    }
  });
}

}  // namespace vit::cpu
