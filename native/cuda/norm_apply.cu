// norm_apply and norm_apply_bwd on the GPU (kernels.h NormApplyArgs / NormApplyBwdArgs;
// native/cpu/norm_apply.cc is the reference, whose f32 formulas these repeat with _rn intrinsics,
// no FMA contraction). Forward: elementwise, mu and rstd recomputed per element from the row's
// moments (two loads, a few flops: cheaper than a pass to save them). Backward: (1) one warp per
// row gives dx and the row's dstats (warp butterfly sums in double); (2) one thread per column sums
// dscale / dbias over the rows in order (double): the same bits on every run, no atomics.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/status.h"
#include "cuda/launch_check.h"
#include "cuda/reduce_helpers.cuh"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / 32;

struct RowStats {
  float mu, rstd;
};

__device__ __forceinline__ RowStats rowStats(const float* stats, int64_t r, int64_t total, bool center, float eps) {
  const float inv = __fdiv_rn(1.0f, static_cast<float>(total));
  const float mu = center ? __fmul_rn(stats[2 * r], inv) : 0.0f;
  float var = __fsub_rn(__fmul_rn(stats[2 * r + 1], inv), __fmul_rn(mu, mu));
  if (var < 0.0f) var = 0.0f;
  return RowStats{mu, __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)))};
}

template <typename T, typename P>
__global__ void applyKernel(NormApplyArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const P* scale = static_cast<const P*>(a.scale);
  const P* bias = static_cast<const P*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int64_t n = a.rows * a.dim;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / a.dim, j = i - r * a.dim;
    const RowStats s = rowStats(a.stats, r, a.total, a.center, a.eps);
    float v = __fmul_rn(__fmul_rn(__fsub_rn(loadF32(x, i), s.mu), s.rstd), loadF32(scale, j));
    if (bias) v = __fadd_rn(v, loadF32(bias, j));
    storeF32(y, i, v);
  }
}

template <typename T, typename P>
__global__ void rowsBwdKernel(NormApplyBwdArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  const P* scale = static_cast<const P*>(a.scale);
  T* dx = static_cast<T*>(a.dx);
  const int lane = threadIdx.x % 32;
  const float inv = __fdiv_rn(1.0f, static_cast<float>(a.total));
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < a.rows;
       r += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const RowStats s = rowStats(a.stats, r, a.total, a.center, a.eps);
    double sg = 0.0, sgc = 0.0;
    for (int64_t j = lane; j < a.dim; j += 32) {
      const int64_t i = r * a.dim + j;
      const float g = __fmul_rn(loadF32(dy, i), loadF32(scale, j));
      sg += g;
      sgc += static_cast<double>(g) * __fsub_rn(loadF32(x, i), s.mu);
      storeF32(dx, i, __fmul_rn(g, s.rstd));
    }
    sg = warpAllSum(sg);
    sgc = warpAllSum(sgc);
    if (lane == 0) {
      const float dvar = __fmul_rn(__fmul_rn(__fmul_rn(__fmul_rn(-0.5f, s.rstd), s.rstd), s.rstd), static_cast<float>(sgc));
      a.dstats[2 * r + 1] = __fmul_rn(dvar, inv);
      a.dstats[2 * r] = a.center ? __fmul_rn(__fsub_rn(__fmul_rn(-s.rstd, static_cast<float>(sg)), __fmul_rn(__fmul_rn(2.0f, s.mu), dvar)), inv) : 0.0f;
    }
  }
}

template <typename T>
__global__ void columnsBwdKernel(NormApplyBwdArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < a.dim;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double ds = 0.0, db = 0.0;
    for (int64_t r = 0; r < a.rows; ++r) {
      const RowStats s = rowStats(a.stats, r, a.total, a.center, a.eps);
      const float g = loadF32(dy, r * a.dim + j);
      ds += static_cast<double>(g) * __fmul_rn(__fsub_rn(loadF32(x, r * a.dim + j), s.mu), s.rstd);
      db += g;
    }
    a.dscale[j] = static_cast<float>(ds);
    if (a.dbias) a.dbias[j] = static_cast<float>(db);
  }
}

template <typename T, typename P>
void apply(cudaStream_t s, const NormApplyArgs& a) {
  if (a.rows * a.dim == 0) return;
  applyKernel<T, P><<<gridFor(a.rows * a.dim, kThreads), kThreads, 0, s>>>(a);
  checkLaunch("norm_apply");
}

template <typename T, typename P>
void applyBwd(cudaStream_t s, const NormApplyBwdArgs& a) {
  if (a.rows > 0) {
    rowsBwdKernel<T, P><<<gridFor(a.rows, kRowsPerBlock), kThreads, 0, s>>>(a);
    checkLaunch("norm_apply_bwd (rows)");
  }
  if (a.dim > 0) {
    // With no rows the column kernel still writes the zero sums.
    columnsBwdKernel<T><<<gridFor(a.dim, kThreads), kThreads, 0, s>>>(a);
    checkLaunch("norm_apply_bwd (columns)");
  }
}

template <typename T>
void applyFor(cudaStream_t s, const NormApplyArgs& a) {
  if (a.paramType == DType::F32) return apply<T, float>(s, a);
  if (a.paramType == DType::BF16) return apply<T, uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply parameters are f32 or bf16", "f32 or bf16", dtypeName(a.paramType));
}

template <typename T>
void applyBwdFor(cudaStream_t s, const NormApplyBwdArgs& a) {
  if (a.paramType == DType::F32) return applyBwd<T, float>(s, a);
  if (a.paramType == DType::BF16) return applyBwd<T, uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply_bwd parameters are f32 or bf16", "f32 or bf16", dtypeName(a.paramType));
}

}  // namespace

void normApply(Stream stream, const NormApplyArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return applyFor<float>(s, a);
  if (a.dtype == DType::BF16) return applyFor<uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

void normApplyBwd(Stream stream, const NormApplyBwdArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return applyBwdFor<float>(s, a);
  if (a.dtype == DType::BF16) return applyBwdFor<uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "norm_apply_bwd supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

}  // namespace vit::cuda
