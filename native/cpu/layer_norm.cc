// LayerNorm / RMSNorm over the last dimension, forward and backward (kernels.h LayerNormFwdArgs,
// LayerNormBwdArgs). f32 or bf16 storage, f32 statistics and accumulation.
//
// Forward: rows are independent; parallelFor over rows, three passes over each row (mean, variance
// about the mean, normalize). The two-pass variance avoids the cancellation of E[x^2] - E[x]^2 on
// rows with a large mean; the row is re-read from cache, so it costs little.
// Backward: dx is per row; dscale / dbias are sums over rows. Those are taken per row block, with a
// blocking that depends only on `rows` (kGradBlocks blocks at most), then the block partials are
// added in block order, so the result is bitwise independent of the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "cpu/storage_f32.h"
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

// scale / bias in f32, whatever their storage: one conversion per call instead of one per row.
std::vector<float> widenParam(const void* p, DType type, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    out[j] = type == DType::F32 ? static_cast<const float*>(p)[j]
                                : loadF32(static_cast<const uint16_t*>(p), j);
  }
  return out;
}

template <typename T>
void forwardRows(const LayerNormFwdArgs& a, const float* scale, const float* bias, int64_t r0,
                 int64_t r1) {
  const int64_t d = a.dim;
  const float invD = 1.0f / static_cast<float>(d);
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(a.x) + r * d;
    T* y = static_cast<T*>(a.y) + r * d;
    float mu = 0.0f;
    if (a.center) mu = laneSum(d, [&](int64_t j) { return loadF32(x, j); }) * invD;
    float var = laneSum(d, [&](int64_t j) {
                  float c = loadF32(x, j) - mu;
                  return c * c;
                }) * invD;
    float rstd = 1.0f / std::sqrt(var + a.eps);
    if (bias) {
      for (int64_t j = 0; j < d; ++j) storeF32(y, j, (loadF32(x, j) - mu) * rstd * scale[j] + bias[j]);
    } else {
      for (int64_t j = 0; j < d; ++j) storeF32(y, j, (loadF32(x, j) - mu) * rstd * scale[j]);
    }
    if (a.mean) a.mean[r] = mu;
    if (a.rstd) a.rstd[r] = rstd;
  }
}

struct RowScratch {
  std::vector<float> xhat, g;  // [dim] each
};
thread_local RowScratch rowScratch;

// Rows [r0, r1): dx for each, and the block's parameter-gradient partials (overwritten).
template <typename T>
void backwardRows(const LayerNormBwdArgs& a, const float* scale, int64_t r0, int64_t r1,
                  float* dscalePart, float* dbiasPart) {
  const int64_t d = a.dim;
  const float invD = 1.0f / static_cast<float>(d);
  rowScratch.xhat.resize(static_cast<size_t>(d));
  rowScratch.g.resize(static_cast<size_t>(d));
  float* xhat = rowScratch.xhat.data();
  float* g = rowScratch.g.data();
  std::fill(dscalePart, dscalePart + d, 0.0f);
  if (dbiasPart) std::fill(dbiasPart, dbiasPart + d, 0.0f);
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(a.x) + r * d;
    const T* dy = static_cast<const T*>(a.dy) + r * d;
    T* dx = static_cast<T*>(a.dx) + r * d;
    const float mu = a.center ? a.mean[r] : 0.0f;
    const float rstd = a.rstd[r];
    for (int64_t j = 0; j < d; ++j) {
      float dyj = loadF32(dy, j);
      xhat[j] = (loadF32(x, j) - mu) * rstd;
      g[j] = dyj * scale[j];
      dscalePart[j] += dyj * xhat[j];
    }
    if (dbiasPart) {
      for (int64_t j = 0; j < d; ++j) dbiasPart[j] += loadF32(dy, j);
    }
    float meanGx = laneSum(d, [&](int64_t j) { return g[j] * xhat[j]; }) * invD;
    float meanG = a.center ? laneSum(d, [&](int64_t j) { return g[j]; }) * invD : 0.0f;
    for (int64_t j = 0; j < d; ++j) storeF32(dx, j, rstd * (g[j] - meanG - xhat[j] * meanGx));
  }
}

}  // namespace

void layerNormFwd(Stream stream, const LayerNormFwdArgs& a) {
  requireStorage(a.dtype, "layer_norm_fwd x/y");
  requireStorage(a.paramType, "layer_norm_fwd scale/bias");
  if (a.rows == 0 || a.dim == 0) return;
  std::vector<float> scale = widenParam(a.scale, a.paramType, a.dim);
  std::vector<float> bias = a.bias ? widenParam(a.bias, a.paramType, a.dim) : std::vector<float>();
  const float* s = scale.data();
  const float* b = a.bias ? bias.data() : nullptr;
  forRows(stream, a.rows, a.rows * a.dim, [&](int64_t r0, int64_t r1) {
    if (a.dtype == DType::F32) {
      forwardRows<float>(a, s, b, r0, r1);
    } else {
      forwardRows<uint16_t>(a, s, b, r0, r1);
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
  forRows(stream, blocks, a.rows * d, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      int64_t r0 = blk * a.rows / blocks, r1 = (blk + 1) * a.rows / blocks;
      float* ds = dscaleParts + blk * d;
      float* db = withBias ? dbiasParts + blk * d : nullptr;
      if (a.dtype == DType::F32) {
        backwardRows<float>(a, scale.data(), r0, r1, ds, db);
      } else {
        backwardRows<uint16_t>(a, scale.data(), r0, r1, ds, db);
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
