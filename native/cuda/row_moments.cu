// row_moments and row_moments_bwd on the GPU (kernels.h RowMomentsArgs / RowMomentsBwdArgs;
// native/cpu/row_moments.cc is the reference). Moments: one warp per row, each lane summing its
// strided columns in double, then the warp's fixed butterfly: the same bits on every run (the
// order differs from the CPU's column order, within the cases' tolerance). Backward: elementwise.
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

template <typename T>
__global__ void momentsKernel(int64_t rows, int64_t dim, const T* __restrict__ x, float* __restrict__ stats) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < rows;
       r += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    double s1 = 0.0, s2 = 0.0;
    for (int64_t j = lane; j < dim; j += 32) {
      const double v = loadF32(x, r * dim + j);
      s1 += v;
      s2 += v * v;
    }
    s1 = warpAllSum(s1);
    s2 = warpAllSum(s2);
    if (lane == 0) {
      stats[2 * r] = static_cast<float>(s1);
      stats[2 * r + 1] = static_cast<float>(s2);
    }
  }
}

template <typename T>
__global__ void momentsBwdKernel(int64_t rows, int64_t dim, const T* __restrict__ x, const float* __restrict__ dstats,
                                 T* __restrict__ dx) {
  const int64_t n = rows * dim;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim;
    // The CPU's operations in its order: 2 * dsumsq (exact), one product, one sum, no FMA.
    storeF32(dx, i, __fadd_rn(dstats[2 * r], __fmul_rn(2.0f * dstats[2 * r + 1], loadF32(x, i))));
  }
}

template <typename T>
void moments(cudaStream_t s, const RowMomentsArgs& a) {
  if (a.rows == 0) return;
  momentsKernel<T><<<gridFor(a.rows, kRowsPerBlock), kThreads, 0, s>>>(a.rows, a.dim, static_cast<const T*>(a.x), a.stats);
  checkLaunch("row_moments");
}

template <typename T>
void momentsBwd(cudaStream_t s, const RowMomentsBwdArgs& a) {
  if (a.rows * a.dim == 0) return;
  momentsBwdKernel<T><<<gridFor(a.rows * a.dim, kThreads), kThreads, 0, s>>>(a.rows, a.dim, static_cast<const T*>(a.x), a.dstats,
                                                                           static_cast<T*>(a.dx));
  checkLaunch("row_moments_bwd");
}

}  // namespace

void rowMoments(Stream stream, const RowMomentsArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return moments<float>(s, a);
  if (a.dtype == DType::BF16) return moments<uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "row_moments supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

void rowMomentsBwd(Stream stream, const RowMomentsBwdArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return momentsBwd<float>(s, a);
  if (a.dtype == DType::BF16) return momentsBwd<uint16_t>(s, a);
  throw Error(ErrorCode::DtypeMismatch, "row_moments_bwd supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

}  // namespace vit::cuda
