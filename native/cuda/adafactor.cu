// Adafactor on the GPU, big_vision's variant (lib/kernels/adafactor.ts AdafactorArgs). native/cpu/adafactor.cc
// writes out the formula and is the reference; every expression below is the CPU's, in the CPU's
// order of operations and precision (f32 per element with _rn intrinsics, so no FMA contraction;
// double for mean(vr), the row and column factors and the sum of u^2). Only the order of the sums
// (row sums, column sums, sum of u^2) differs from the CPU.
//
// Factored parameter G [rows, cols] (g = gradScale * grad, s = g^2 + eps, d = decay):
//   1. rowKernel        vr[i] = d vr[i] + (1 - d) mean_j s[i, j]              (one row per warp/block)
//   2. colPartialKernel part[rb, j] = sum over rows of row block rb of s[., j] (fixed row blocking)
//   3. colFinalKernel   vc[j] = d vc[j] + (1 - d) (sum_rb part[rb, j]) / rows; colFactor[j]
//   4. rowFactorKernel  mean(vr) in double (one block), rowFactor[i] = 1 / sqrt(vr[i] / mean(vr))
//   5. (clipThreshold > 0) sumSquaresKernel + clipKernel: the block-RMS clip factor of
//      u = g * rowFactor[i] * colFactor[j], summed in double over a fixed partition
//   6. updateKernel     m = b1 m + (1 - b1) u clip;  param -= lr (lrMult m + wd param)
// A shard (lib/kernels/adafactor.ts "Sharded"): the caller's rowSums replace step 1's sums
// (vrFromSumsKernel), its colSums step 2's (colFinalKernel reads them), its vrSum step 4's sum of vr;
// the means divide by totalCols / totalRows.
// Unfactored (v [rows, cols]):
//   no clip: one elementwise kernel (v update, u = g / sqrt(v), momentum, param);
//   clip: v update + sum of u^2, the clip factor, then the update reading the new v.
// Temporaries (column partials, factors, the u^2 partials and the clip factor) live in the
// stream's scratch buffer (cuda/stream_scratch.h): no cudaMalloc per call, no float atomics, and
// the same bits on every run.
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
constexpr int64_t kWarpRowMaxCols = 512;  // rows up to this wide get one warp each
constexpr int kColTile = 32, kRowLanes = 8;  // column partial sums: 32 columns x 8 row lanes
constexpr int64_t kTargetPartialBlocks = 2048;
constexpr int64_t kMaxRowBlocks = 1024;
constexpr int64_t kSquareBlocks = 1024;     // most partial sums of u^2
constexpr int64_t kSquareBlockElems = 1 << 16;  // fewest elements per such partial (when n allows)

// Everything an update needs, by value in the kernels' parameters.
struct Step {
  float gradScale, eps, d, oneMinusD;  // second moment
  float b1, oneMinusB1;                // momentum
  float stepLr, decayLr;               // lr * lrMult, lr * weightDecay
};

// A kernel's Step: by value, or (the executor's dynamic fields, kernels.h "Dynamic scalar fields":
// a step replayed as a CUDA graph) computed on the device by stepKernel into scratch.
struct StepArg {
  Step host;
  const Step* dev;
  __device__ __forceinline__ Step get() const { return dev ? *dev : host; }
};

// On the host, and on the device by stepKernel (products rounded to nearest in both: no FMA here).
__host__ __device__ Step stepOf(const AdafactorArgs& a) {
  Step s;
  s.gradScale = a.gradScale;
  s.eps = a.eps;
  s.d = a.decay;
  s.oneMinusD = static_cast<float>(1.0 - a.decay);
  s.b1 = a.beta1;
  s.oneMinusB1 = static_cast<float>(1.0 - a.beta1);
  s.stepLr = a.lr * a.lrMult;
  s.decayLr = a.lr * a.weightDecay;
  return s;
}

// g = gradScale * grad[i]
template <typename G>
__device__ __forceinline__ float gradAt(const Step& s, const G* grad, int64_t i) {
  return __fmul_rn(s.gradScale, loadF32(grad, i));
}

// s = g^2 + eps
__device__ __forceinline__ float squarePlusEps(const Step& s, float g) {
  return __fadd_rn(__fmul_rn(g, g), s.eps);
}

// m = b1 m + (1 - b1) (u * clip), stored in M's precision; param -= stepLr m + decayLr param.
// The update uses m in f32; only the stored state is rounded (optax.ema with a bf16 accumulator).
template <typename M>
__device__ __forceinline__ void applyUpdate(const Step& s, float u, float clip, M* momentum,
                                            float* param, int64_t i) {
  const float mj = __fadd_rn(__fmul_rn(s.b1, loadF32(momentum, i)), __fmul_rn(s.oneMinusB1, __fmul_rn(u, clip)));
  storeF32(momentum, i, mj);
  const float p = param[i];
  param[i] = __fsub_rn(p, __fadd_rn(__fmul_rn(s.stepLr, mj), __fmul_rn(s.decayLr, p)));
}

// ---- factored ---------------------------------------------------------------------------------

// 1. vr[i] = d vr[i] + (1 - d) (sum_j s[i, j] / colCount), kRowThreads threads per row.
template <typename G, int kRowThreads>
__global__ void __launch_bounds__(kBlockThreads)
    rowKernel(StepArg sArg, int64_t rows, int64_t cols, float colCount, const G* __restrict__ grad,
              float* __restrict__ vr) {
  const Step s = sArg.get();
  constexpr int kRowsPerBlock = kBlockThreads / kRowThreads;
  __shared__ float shared[kRowThreads / 32];
  const int t = threadIdx.x % kRowThreads;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t i = first; i < rows; i += stride) {
    float sum = 0.0f;
    for (int64_t j = t; j < cols; j += kRowThreads) sum += squarePlusEps(s, gradAt(s, grad, i * cols + j));
    sum = blockAllSum<kRowThreads>(sum, shared);
    if (t == 0) {
      vr[i] = __fadd_rn(__fmul_rn(s.d, vr[i]), __fmul_rn(s.oneMinusD, __fdiv_rn(sum, colCount)));
    }
  }
}

// 1 (sharded). vr[i] = d vr[i] + (1 - d) (rowSums[i] / colCount), the caller's global row sums.
__global__ void vrFromSumsKernel(StepArg sArg, int64_t rows, float colCount, const float* __restrict__ rowSums,
                                 float* __restrict__ vr) {
  const Step s = sArg.get();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows; i += stride) {
    vr[i] = __fadd_rn(__fmul_rn(s.d, vr[i]), __fmul_rn(s.oneMinusD, __fdiv_rn(rowSums[i], colCount)));
  }
}

int64_t rowBlocksFor(int64_t rows, int64_t cols) {
  const int64_t colTiles = (cols + kColTile - 1) / kColTile;
  int64_t blocks = (kTargetPartialBlocks + colTiles - 1) / colTiles;
  return std::max<int64_t>(1, std::min({blocks, kMaxRowBlocks, rows}));
}

// 2. part[rb, j] = sum of s[r, j] over the rows r of row block rb. Block (column tile, row block)
// of 32 x 8 threads; the 8 row lanes are added in lane order.
template <typename G>
__global__ void __launch_bounds__(kColTile * kRowLanes)
    colPartialKernel(StepArg sArg, int64_t rows, int64_t cols, int64_t rowBlocks,
                     const G* __restrict__ grad, float* __restrict__ part) {
  const Step s = sArg.get();
  __shared__ float lanes[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  const int64_t rb = blockIdx.y;
  const int64_t r0 = rb * rows / rowBlocks, r1 = (rb + 1) * rows / rowBlocks;
  float sum = 0.0f;
  if (j < cols) {
    for (int64_t r = r0 + ty; r < r1; r += kRowLanes) sum += squarePlusEps(s, gradAt(s, grad, r * cols + j));
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

// 3. vc[j] = d vc[j] + (1 - d) (column sum / rowCount); colFactor[j] = 1 / sqrt(vc[j]) with the
// CPU's mix of precisions: the square root of the f32 vc in f32, the reciprocal in double. The
// column sum is the caller's colSums[j] when given (a shard), else the partials' sum.
__global__ void colFinalKernel(StepArg sArg, float rowCount, int64_t cols, int64_t rowBlocks,
                               const float* __restrict__ part, const float* __restrict__ colSums,
                               float* __restrict__ vc, float* __restrict__ colFactor) {
  const Step s = sArg.get();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < cols; j += stride) {
    float sum = 0.0f;
    if (colSums) {
      sum = colSums[j];
    } else {
      for (int64_t rb = 0; rb < rowBlocks; ++rb) sum += part[rb * cols + j];
    }
    const float v = __fadd_rn(__fmul_rn(s.d, vc[j]), __fmul_rn(s.oneMinusD, __fdiv_rn(sum, rowCount)));
    vc[j] = v;
    colFactor[j] = static_cast<float>(1.0 / static_cast<double>(__fsqrt_rn(v)));
  }
}

// 4. One block: mean(vr) in double (the caller's vrSum / totalRows for a shard), then
// rowFactor[i] = float(1 / sqrt(vr[i] / mean)) in double.
constexpr int kFactorThreads = 1024;
__global__ void __launch_bounds__(kFactorThreads)
    rowFactorKernel(int64_t rows, int64_t totalRows, const float* __restrict__ vrSum, const float* __restrict__ vr,
                    float* __restrict__ rowFactor) {
  __shared__ double shared[kFactorThreads / 32];
  double total;
  if (vrSum) {
    total = static_cast<double>(*vrSum);
  } else {
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < rows; i += kFactorThreads) sum += vr[i];
    total = blockAllSum<kFactorThreads>(sum, shared);
  }
  const double mean = total / static_cast<double>(totalRows);
  for (int64_t i = threadIdx.x; i < rows; i += kFactorThreads) {
    rowFactor[i] = static_cast<float>(1.0 / sqrt(static_cast<double>(vr[i]) / mean));
  }
}

// u = g * (rowFactor[i] * colFactor[j]) (the CPU's grouping).
template <typename G>
__device__ __forceinline__ float factoredU(const Step& s, const G* grad, const float* rowFactor,
                                           const float* colFactor, int64_t cols, int64_t i, int64_t j) {
  return __fmul_rn(gradAt(s, grad, i * cols + j), __fmul_rn(rowFactor[i], colFactor[j]));
}

// 6. The update of every element of the rows, kRowThreads threads per row; clip null means 1.
template <typename G, typename M, int kRowThreads>
__global__ void __launch_bounds__(kBlockThreads)
    factoredUpdateKernel(StepArg sArg, int64_t rows, int64_t cols, const G* __restrict__ grad,
                         const float* __restrict__ rowFactor, const float* __restrict__ colFactor,
                         const float* __restrict__ clipPtr, M* __restrict__ momentum,
                         float* __restrict__ param) {
  const Step s = sArg.get();
  constexpr int kRowsPerBlock = kBlockThreads / kRowThreads;
  const float clip = clipPtr ? *clipPtr : 1.0f;
  const int t = threadIdx.x % kRowThreads;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t i = first; i < rows; i += stride) {
    for (int64_t j = t; j < cols; j += kRowThreads) {
      applyUpdate(s, factoredU(s, grad, rowFactor, colFactor, cols, i, j), clip, momentum, param, i * cols + j);
    }
  }
}

// ---- clipping ---------------------------------------------------------------------------------

int64_t squareBlocksFor(int64_t n) {
  return std::max<int64_t>(1, std::min(kSquareBlocks, (n + kSquareBlockElems - 1) / kSquareBlockElems));
}

// 5a (factored). partial[b] = sum of u^2 (double) over elements [b n / B, (b + 1) n / B).
template <typename G>
__global__ void __launch_bounds__(kBlockThreads)
    factoredSquaresKernel(StepArg sArg, int64_t rows, int64_t cols, const G* __restrict__ grad,
                          const float* __restrict__ rowFactor, const float* __restrict__ colFactor,
                          double* __restrict__ partial) {
  const Step s = sArg.get();
  __shared__ double shared[kBlockThreads / 32];
  const int64_t n = rows * cols, blocks = gridDim.x;
  const int64_t begin = blockIdx.x * n / blocks, end = (blockIdx.x + 1) * n / blocks;
  double sum = 0.0;
  for (int64_t e = begin + threadIdx.x; e < end; e += kBlockThreads) {
    const int64_t i = e / cols, j = e - i * cols;
    const double u = factoredU(s, grad, rowFactor, colFactor, cols, i, j);
    sum += u * u;
  }
  sum = blockAllSum<kBlockThreads>(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// 5b. clip = 1 / max(1, rms(u) / threshold), the partials added in order (one thread).
__global__ void clipKernel(int64_t count, int64_t n, float threshold, const double* __restrict__ partial,
                           float* __restrict__ clip) {
  double sum = 0.0;
  for (int64_t b = 0; b < count; ++b) sum += partial[b];
  const double rms = sqrt(sum / static_cast<double>(n));
  *clip = static_cast<float>(1.0 / fmax(1.0, rms / static_cast<double>(threshold)));
}

// ---- unfactored -------------------------------------------------------------------------------

// v = d v + (1 - d) (g^2 + eps) (when updateV), u = g / sqrt(v).
template <typename G>
__device__ __forceinline__ float unfactoredU(const Step& s, const G* grad, float* v, int64_t i, bool updateV) {
  const float g = gradAt(s, grad, i);
  float vi = v[i];
  if (updateV) {
    vi = __fadd_rn(__fmul_rn(s.d, vi), __fmul_rn(s.oneMinusD, squarePlusEps(s, g)));
    v[i] = vi;
  }
  return __fdiv_rn(g, __fsqrt_rn(vi));
}

// No clipping: v, momentum and param in one pass. With clipping (clipPtr set) v was updated by
// unfactoredSquaresKernel and is only read here.
template <typename G, typename M>
__global__ void __launch_bounds__(kBlockThreads)
    unfactoredUpdateKernel(StepArg sArg, int64_t n, const G* __restrict__ grad, float* __restrict__ v,
                           const float* __restrict__ clipPtr, M* __restrict__ momentum,
                           float* __restrict__ param) {
  const Step s = sArg.get();
  const bool updateV = clipPtr == nullptr;
  const float clip = clipPtr ? *clipPtr : 1.0f;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlockThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kBlockThreads + threadIdx.x; i < n; i += stride) {
    applyUpdate(s, unfactoredU(s, grad, v, i, updateV), clip, momentum, param, i);
  }
}

// The v update and partial[b] = sum of u^2 (double) over elements [b n / B, (b + 1) n / B).
template <typename G>
__global__ void __launch_bounds__(kBlockThreads)
    unfactoredSquaresKernel(StepArg sArg, int64_t n, const G* __restrict__ grad, float* __restrict__ v,
                            double* __restrict__ partial) {
  const Step s = sArg.get();
  __shared__ double shared[kBlockThreads / 32];
  const int64_t blocks = gridDim.x;
  const int64_t begin = blockIdx.x * n / blocks, end = (blockIdx.x + 1) * n / blocks;
  double sum = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kBlockThreads) {
    const double u = unfactoredU(s, grad, v, i, true);
    sum += u * u;
  }
  sum = blockAllSum<kBlockThreads>(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

// ---- launch -----------------------------------------------------------------------------------

// The scratch layout: [kSquareBlocks doubles][clip float, the device Step, padded][then the f32
// arrays]. One streamScratch call per adafactor call: a second could return the same memory.
struct Scratch {
  double* squares;
  float* clip;
  Step* step;
  float* floats;  // the rest
};

Scratch scratchFor(cudaStream_t stream, size_t floats) {
  const size_t head = kSquareBlocks * sizeof(double) + 256;
  char* base = static_cast<char*>(streamScratch(stream, head + floats * sizeof(float)));
  Scratch s;
  s.squares = reinterpret_cast<double*>(base);
  s.clip = reinterpret_cast<float*>(base + kSquareBlocks * sizeof(double));
  s.step = reinterpret_cast<Step*>(base + kSquareBlocks * sizeof(double) + 64);
  s.floats = reinterpret_cast<float*>(base + head);
  return s;
}

static_assert(64 + sizeof(Step) <= 256, "the Step fits the padded head of the scratch");

// stepOf on the device, from the dynamic fields' addresses.
__global__ void stepKernel(AdafactorArgs a, Step* out) {
  if (a.lrPtr) a.lr = *a.lrPtr;
  if (a.weightDecayPtr) a.weightDecay = *a.weightDecayPtr;
  if (a.decayPtr) a.decay = *a.decayPtr;
  if (a.gradScalePtr) a.gradScale = *a.gradScalePtr;
  *out = stepOf(a);
}

StepArg stepArgOf(cudaStream_t stream, const AdafactorArgs& a, Step* slot) {
  if (!(a.lrPtr || a.weightDecayPtr || a.decayPtr || a.gradScalePtr)) return {stepOf(a), nullptr};
  stepKernel<<<1, 1, 0, stream>>>(a, slot);
  checkLaunch("adafactor (dynamic step constants)");
  return {stepOf(a), slot};
}

template <typename G, typename M>
void factoredStep(cudaStream_t stream, const AdafactorArgs& a) {
  const int64_t rows = a.rows, cols = a.cols;
  const G* grad = static_cast<const G*>(a.grad);
  M* momentum = static_cast<M*>(a.momentum);
  const int64_t rowBlocks = rowBlocksFor(rows, cols);
  const int64_t colTiles = (cols + kColTile - 1) / kColTile;
  if (colTiles > 0x7fffffff) {
    throw Error(ErrorCode::InvalidArgument, "adafactor cols is too large for the GPU kernel",
                "cols < 2^36", std::to_string(cols));
  }
  Scratch scratch = scratchFor(stream, static_cast<size_t>(cols + rows + rowBlocks * cols));
  const StepArg s = stepArgOf(stream, a, scratch.step);
  float* colFactor = scratch.floats;
  float* rowFactor = colFactor + cols;
  float* part = rowFactor + rows;

  // The global matrix's dims (a shard's); rows, cols when unsharded.
  const int64_t totalRows = a.totalRows ? a.totalRows : rows;
  const float rowCount = static_cast<float>(totalRows);
  const float colCount = static_cast<float>(a.totalCols ? a.totalCols : cols);

  if (a.rowSums) {
    vrFromSumsKernel<<<gridFor(rows, 256), 256, 0, stream>>>(s, rows, colCount, a.rowSums, a.vr);
  } else if (cols <= kWarpRowMaxCols) {
    rowKernel<G, 32><<<gridFor(rows, kBlockThreads / 32), kBlockThreads, 0, stream>>>(s, rows, cols, colCount, grad, a.vr);
  } else {
    rowKernel<G, kBlockThreads><<<gridFor(rows, 1), kBlockThreads, 0, stream>>>(s, rows, cols, colCount, grad, a.vr);
  }
  checkLaunch("adafactor (row statistics)");
  if (!a.colSums) {
    dim3 grid(static_cast<unsigned>(colTiles), static_cast<unsigned>(rowBlocks));
    colPartialKernel<G><<<grid, kColTile * kRowLanes, 0, stream>>>(s, rows, cols, rowBlocks, grad, part);
    checkLaunch("adafactor (column partial sums)");
  }
  colFinalKernel<<<gridFor(cols, 256), 256, 0, stream>>>(s, rowCount, cols, rowBlocks, part, a.colSums, a.vc, colFactor);
  checkLaunch("adafactor (column statistics)");
  rowFactorKernel<<<1, kFactorThreads, 0, stream>>>(rows, totalRows, a.vrSum, a.vr, rowFactor);
  checkLaunch("adafactor (row factors)");
  const float* clip = nullptr;
  if (a.clipThreshold > 0.0f) {
    const int64_t blocks = squareBlocksFor(rows * cols);
    factoredSquaresKernel<G><<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
        s, rows, cols, grad, rowFactor, colFactor, scratch.squares);
    checkLaunch("adafactor (update rms)");
    clipKernel<<<1, 1, 0, stream>>>(blocks, rows * cols, a.clipThreshold, scratch.squares, scratch.clip);
    checkLaunch("adafactor (clip factor)");
    clip = scratch.clip;
  }
  if (cols <= kWarpRowMaxCols) {
    factoredUpdateKernel<G, M, 32><<<gridFor(rows, kBlockThreads / 32), kBlockThreads, 0, stream>>>(
        s, rows, cols, grad, rowFactor, colFactor, clip, momentum, a.param);
  } else {
    factoredUpdateKernel<G, M, kBlockThreads><<<gridFor(rows, 1), kBlockThreads, 0, stream>>>(
        s, rows, cols, grad, rowFactor, colFactor, clip, momentum, a.param);
  }
  checkLaunch("adafactor (update)");
}

template <typename G, typename M>
void unfactoredStep(cudaStream_t stream, const AdafactorArgs& a) {
  const int64_t n = a.rows * a.cols;
  const G* grad = static_cast<const G*>(a.grad);
  M* momentum = static_cast<M*>(a.momentum);
  const float* clip = nullptr;
  Scratch scratch = scratchFor(stream, 0);
  const StepArg s = stepArgOf(stream, a, scratch.step);
  if (a.clipThreshold > 0.0f) {
    const int64_t blocks = squareBlocksFor(n);
    unfactoredSquaresKernel<G><<<static_cast<unsigned>(blocks), kBlockThreads, 0, stream>>>(
        s, n, grad, a.v, scratch.squares);
    checkLaunch("adafactor (second moment and update rms)");
    clipKernel<<<1, 1, 0, stream>>>(blocks, n, a.clipThreshold, scratch.squares, scratch.clip);
    checkLaunch("adafactor (clip factor)");
    clip = scratch.clip;
  }
  unfactoredUpdateKernel<G, M><<<gridFor(n, kBlockThreads), kBlockThreads, 0, stream>>>(
      s, n, grad, a.v, clip, momentum, a.param);
  checkLaunch("adafactor (update)");
}

template <typename G, typename M>
void step(cudaStream_t stream, const AdafactorArgs& a) {
  if (a.factored) {
    factoredStep<G, M>(stream, a);
  } else {
    unfactoredStep<G, M>(stream, a);
  }
}

}  // namespace

void adafactor(Stream stream, const AdafactorArgs& a) {
  for (DType t : {a.gradType, a.momentumType}) {
    if (t != DType::F32 && t != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch, "adafactor gradients and momentum are f32 or bf16",
                  "f32 or bf16", dtypeName(t));
    }
  }
  if (a.rows == 0 || a.cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const bool g32 = a.gradType == DType::F32, m32 = a.momentumType == DType::F32;
  if (g32 && m32) return step<float, float>(s, a);
  if (g32) return step<float, uint16_t>(s, a);
  if (m32) return step<uint16_t, float>(s, a);
  step<uint16_t, uint16_t>(s, a);
}

}  // namespace vit::cuda
