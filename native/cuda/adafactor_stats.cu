// adafactor_stats on the GPU (lib/kernels/adafactor_stats.ts; native/cpu/adafactor_stats.cc is the
// reference): one shard's row sums, column sums and (optionally) the sum of its updated vr, summed
// as native/cuda/adafactor.cu sums its own statistics (one warp or block per row; column partials
// over the same fixed row blocks, added in block order), f32 per element with _rn intrinsics, the
// vr sum in double in one block. No atomics: the same bits on every run.
//   1. rowSumsKernel    rowSums[i] = sum_j s[i, j]
//   2. colPartialKernel part[rb, j] = sum over the rows of row block rb of s[., j]  (stream scratch)
//   3. colSumsKernel    colSums[j] = sum_rb part[rb, j]
//   4. vrSumKernel      vrSum = sum_i (d vr[i] + (1 - d) rowSums[i] / totalCols)   (with vrSum only)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/launch_check.h"
#include "cuda/reduce_helpers.cuh"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kBlockThreads = 256;
constexpr int64_t kWarpRowMaxCols = 512;  // rows up to this wide get one warp each (as adafactor.cu)
constexpr int kColTile = 32, kRowLanes = 8;
constexpr int64_t kTargetPartialBlocks = 2048;
constexpr int64_t kMaxRowBlocks = 1024;

// gradScale, eps, decay: by value, or read on the device from the dynamic fields' addresses.
struct Scalars {
  float gradScale, eps, decay;
  const float* gradScalePtr;
  const float* decayPtr;
  __device__ __forceinline__ float scale() const { return gradScalePtr ? *gradScalePtr : gradScale; }
  __device__ __forceinline__ float d() const { return decayPtr ? *decayPtr : decay; }
};

// s = (gradScale grad[i])^2 + eps, as adafactor.cu computes it.
template <typename G>
__device__ __forceinline__ float squarePlusEps(float scale, float eps, const G* grad, int64_t i) {
  const float g = __fmul_rn(scale, loadF32(grad, i));
  return __fadd_rn(__fmul_rn(g, g), eps);
}

template <typename G, int kRowThreads>
__global__ void __launch_bounds__(kBlockThreads)
    rowSumsKernel(Scalars sc, int64_t rows, int64_t cols, const G* __restrict__ grad, float* __restrict__ rowSums) {
  const float scale = sc.scale();
  constexpr int kRowsPerBlock = kBlockThreads / kRowThreads;
  __shared__ float shared[kRowThreads / 32];
  const int t = threadIdx.x % kRowThreads;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t i = first; i < rows; i += stride) {
    float sum = 0.0f;
    for (int64_t j = t; j < cols; j += kRowThreads) sum += squarePlusEps(scale, sc.eps, grad, i * cols + j);
    sum = blockAllSum<kRowThreads>(sum, shared);
    if (t == 0) rowSums[i] = sum;
  }
}

int64_t rowBlocksFor(int64_t rows, int64_t cols) {
  const int64_t colTiles = (cols + kColTile - 1) / kColTile;
  int64_t blocks = (kTargetPartialBlocks + colTiles - 1) / colTiles;
  return std::max<int64_t>(1, std::min({blocks, kMaxRowBlocks, rows}));
}

template <typename G>
__global__ void __launch_bounds__(kColTile * kRowLanes)
    colPartialKernel(Scalars sc, int64_t rows, int64_t cols, int64_t rowBlocks, const G* __restrict__ grad,
                     float* __restrict__ part) {
  const float scale = sc.scale();
  __shared__ float lanes[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  const int64_t rb = blockIdx.y;
  const int64_t r0 = rb * rows / rowBlocks, r1 = (rb + 1) * rows / rowBlocks;
  float sum = 0.0f;
  if (j < cols) {
    for (int64_t r = r0 + ty; r < r1; r += kRowLanes) sum += squarePlusEps(scale, sc.eps, grad, r * cols + j);
  }
  lanes[ty][tx] = sum;
  __syncthreads();
  if (ty == 0 && j < cols) {
    float total = lanes[0][tx];
#pragma unroll
    for (int l = 1; l < kRowLanes; ++l) total += lanes[l][tx];
    part[rb * cols + j] = total;
  }
}

__global__ void colSumsKernel(int64_t cols, int64_t rowBlocks, const float* __restrict__ part,
                              float* __restrict__ colSums) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += stride) {
    float sum = 0.0f;
    for (int64_t rb = 0; rb < rowBlocks; ++rb) sum += part[rb * cols + j];
    colSums[j] = sum;
  }
}

// One block: the updated vr exactly as adafactor.cu's rowKernel computes it, summed in double.
constexpr int kSumThreads = 1024;
__global__ void __launch_bounds__(kSumThreads)
    vrSumKernel(Scalars sc, int64_t rows, float colCount, const float* __restrict__ vr,
                const float* __restrict__ rowSums, float* __restrict__ vrSum) {
  __shared__ double shared[kSumThreads / 32];
  const float d = sc.d(), oneMinusD = static_cast<float>(1.0 - d);
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < rows; i += kSumThreads) {
    sum += __fadd_rn(__fmul_rn(d, vr[i]), __fmul_rn(oneMinusD, __fdiv_rn(rowSums[i], colCount)));
  }
  sum = blockAllSum<kSumThreads>(sum, shared);
  if (threadIdx.x == 0) *vrSum = static_cast<float>(sum);
}

__global__ void zeroKernel(int64_t n, float* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = 0.0f;
}

template <typename G>
void stats(cudaStream_t stream, const AdafactorStatsArgs& a, const Scalars& sc) {
  const int64_t rows = a.rows, cols = a.cols;
  const G* grad = static_cast<const G*>(a.grad);
  const int64_t rowBlocks = rowBlocksFor(rows, cols);
  const int64_t colTiles = (cols + kColTile - 1) / kColTile;
  if (colTiles > 0x7fffffff) {
    throw Error(ErrorCode::InvalidArgument, "adafactor_stats cols is too large for the GPU kernel",
                "cols < 2^36", std::to_string(cols));
  }
  float* part = static_cast<float*>(streamScratch(stream, static_cast<size_t>(rowBlocks * cols) * sizeof(float)));
  if (cols <= kWarpRowMaxCols) {
    rowSumsKernel<G, 32><<<gridFor(rows, kBlockThreads / 32), kBlockThreads, 0, stream>>>(sc, rows, cols, grad, a.rowSums);
  } else {
    rowSumsKernel<G, kBlockThreads><<<gridFor(rows, 1), kBlockThreads, 0, stream>>>(sc, rows, cols, grad, a.rowSums);
  }
  checkLaunch("adafactor_stats (row sums)");
  dim3 grid(static_cast<unsigned>(colTiles), static_cast<unsigned>(rowBlocks));
  colPartialKernel<G><<<grid, kColTile * kRowLanes, 0, stream>>>(sc, rows, cols, rowBlocks, grad, part);
  checkLaunch("adafactor_stats (column partial sums)");
  colSumsKernel<<<gridFor(cols, 256), 256, 0, stream>>>(cols, rowBlocks, part, a.colSums);
  checkLaunch("adafactor_stats (column sums)");
  if (a.vrSum) {
    const float colCount = static_cast<float>(a.totalCols ? a.totalCols : cols);
    vrSumKernel<<<1, kSumThreads, 0, stream>>>(sc, rows, colCount, a.vr, a.rowSums, a.vrSum);
    checkLaunch("adafactor_stats (vr sum)");
  }
}

}  // namespace

void adafactorStats(Stream stream, const AdafactorStatsArgs& a) {
  if (a.gradType != DType::F32 && a.gradType != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "adafactor_stats gradients are f32 or bf16", "f32 or bf16",
                dtypeName(a.gradType));
  }
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.rows == 0 || a.cols == 0) {  // an empty shard adds nothing
    if (a.rows > 0) zeroKernel<<<gridFor(a.rows, 256), 256, 0, s>>>(a.rows, a.rowSums);
    if (a.cols > 0) zeroKernel<<<gridFor(a.cols, 256), 256, 0, s>>>(a.cols, a.colSums);
    if (a.vrSum) zeroKernel<<<1, 32, 0, s>>>(1, a.vrSum);
    checkLaunch("adafactor_stats (empty shard)");
    return;
  }
  const Scalars sc{a.gradScale, a.eps, a.decay, a.gradScalePtr, a.decayPtr};
  if (a.gradType == DType::F32) return stats<float>(s, a, sc);
  stats<uint16_t>(s, a, sc);
}

}  // namespace vit::cuda
