// norm_apply and norm_apply_bwd (lib/kernels/norm_apply.ts, norm_apply_bwd.ts): a norm of this
// device's columns from global row statistics, and its backward with the statistics' gradient as
// an output of its own (summed over the devices by the graph, then through row_moments_bwd).
// Rows are independent; dscale/dbias sum each column over the rows in order: the thread count
// never changes a result.
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

struct RowStats {
  float mu;
  float rstd;
};

// mu and rstd of row i, in f32 as the CUDA kernel computes them (the same operations in order).
inline RowStats rowStats(const float* stats, int64_t i, int64_t total, bool center, float eps) {
  const float inv = 1.0f / static_cast<float>(total);
  const float mu = center ? stats[2 * i] * inv : 0.0f;
  float var = stats[2 * i + 1] * inv - mu * mu;
  if (var < 0.0f) var = 0.0f;  // rounding of the raw moments; the true variance is >= 0
  return {mu, 1.0f / std::sqrt(var + eps)};
}

template <typename T, typename P>
void apply(Stream stream, const NormApplyArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const P* scale = static_cast<const P*>(a.scale);
  const P* bias = static_cast<const P*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int64_t d = a.dim;
  parallelRows(stream, a.rows, a.rows * d, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const RowStats s = rowStats(a.stats, i, a.total, a.center, a.eps);
      for (int64_t j = 0; j < d; ++j) {
        float v = (loadF32(x, i * d + j) - s.mu) * s.rstd * loadF32(scale, j);
        if (bias) v += loadF32(bias, j);
        storeF32(y, i * d + j, v);
      }
    }
  });
}

template <typename T, typename P>
void applyBwd(Stream stream, const NormApplyBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  const P* scale = static_cast<const P*>(a.scale);
  T* dx = static_cast<T*>(a.dx);
  const int64_t d = a.dim;
  const float inv = 1.0f / static_cast<float>(a.total > 0 ? a.total : 1);
  parallelRows(stream, a.rows, a.rows * d, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // mu and rstd recomputed from the global moments (cheaper than saving them: 2 floats a row).
      const RowStats s = rowStats(a.stats, i, a.total, a.center, a.eps);
      double sg = 0.0;
      double sgc = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const float g = loadF32(dy, i * d + j) * loadF32(scale, j);
        sg += g;
        sgc += static_cast<double>(g) * (loadF32(x, i * d + j) - s.mu);
        storeF32(dx, i * d + j, g * s.rstd);
      }
      const float dvar = -0.5f * s.rstd * s.rstd * s.rstd * static_cast<float>(sgc);
      a.dstats[2 * i + 1] = dvar * inv;
      a.dstats[2 * i] = a.center ? (-s.rstd * static_cast<float>(sg) - 2.0f * s.mu * dvar) * inv : 0.0f;
    }
  });
  // Parameter gradients: each column summed over the rows in order (double), columns in parallel.
  parallelRows(stream, d, a.rows * d, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      double ds = 0.0;
      double db = 0.0;
      for (int64_t i = 0; i < a.rows; ++i) {
        const RowStats s = rowStats(a.stats, i, a.total, a.center, a.eps);
        const float g = loadF32(dy, i * d + j);
        ds += static_cast<double>(g) * ((loadF32(x, i * d + j) - s.mu) * s.rstd);
        db += g;
      }
      a.dscale[j] = static_cast<float>(ds);
      if (a.dbias) a.dbias[j] = static_cast<float>(db);
    }
  });
}

template <typename T>
void applyFor(Stream stream, const NormApplyArgs& a) {
  if (a.paramType == DType::F32) return apply<T, float>(stream, a);
  if (a.paramType == DType::BF16) return apply<T, uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply parameters are f32 or bf16", "f32 or bf16", dtypeName(a.paramType));
}

template <typename T>
void applyBwdFor(Stream stream, const NormApplyBwdArgs& a) {
  if (a.paramType == DType::F32) return applyBwd<T, float>(stream, a);
  if (a.paramType == DType::BF16) return applyBwd<T, uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply_bwd parameters are f32 or bf16", "f32 or bf16", dtypeName(a.paramType));
}

}  // namespace

void normApply(Stream stream, const NormApplyArgs& a) {
  if (a.dtype == DType::F32) return applyFor<float>(stream, a);
  if (a.dtype == DType::BF16) return applyFor<uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

void normApplyBwd(Stream stream, const NormApplyBwdArgs& a) {
  if (a.dtype == DType::F32) return applyBwdFor<float>(stream, a);
  if (a.dtype == DType::BF16) return applyBwdFor<uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply_bwd supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

}  // namespace vit::cpu
