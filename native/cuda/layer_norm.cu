// LayerNorm / RMSNorm over the last dimension on the GPU, forward and backward (kernels.h
// LayerNormFwdArgs / LayerNormBwdArgs; native/cpu/layer_norm.cc and layer_norm_rows.h are the
// reference). f32 or bf16 x/y/dy/dx, f32 or bf16 scale/bias, f32 statistics and sums.
//
// Rows: one warp per row when dim <= 512 (the per-head QK-norm rows, B*T*H rows of Dh = 64/128:
// eight rows per 256-thread block), one 256-thread block per row otherwise (D = 768 .. 6144).
// A row is read three times (mean, variance about the mean, normalize), as on the CPU; the later
// passes hit L1/L2. The per-element formulas use _rn intrinsics (no FMA contraction) so that they
// round like the CPU build; only the order of the row sums differs from the CPU.
//
// Backward, three kernels: (1) dscale / dbias partials: a column kernel sums each column over a
// fixed row blocking (rowBlocks depends on rows and dim only) into [rowBlocks, dim] partials in
// the stream's scratch (cuda/stream_scratch.h), no float atomics; (2) dx per row (the same row
// layouts as the forward); (3) a finalize kernel adds each column's partials in block order.
// Bitwise reproducible from run to run. The column kernel re-reads x and dy (one extra pass over
// them, a candidate for fusion into the dx kernel later).
//
// Row layouts (lib/kernels/records.ts RowLayout) move only where a row is read or written; the arithmetic, the
// row-to-thread mapping and the blocking are those of the dense call. dresidual (optional) is added
// to dx in f32 before the one rounding; dx may be dresidual, so neither is __restrict__.
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
constexpr int64_t kWarpRowMaxDim = 512;  // rows up to this wide get one warp each

// ---- row addressing ---------------------------------------------------------------------------

// The first element of row r under layout l. Dense: r * dim. Grouped: a 32-bit division when the
// values fit (the common case, far cheaper than a 64-bit one), else a 64-bit one.
__device__ __forceinline__ int64_t rowStart(const RowLayout& l, int64_t dim, int64_t r) {
  if (l.groupRows == 0) return r * dim;
  int64_t group, within;
  if (r <= 0xffffffffLL && l.groupRows <= 0xffffffffLL) {
    const uint32_t r32 = static_cast<uint32_t>(r), g32 = static_cast<uint32_t>(l.groupRows);
    group = r32 / g32;
    within = r32 - static_cast<uint32_t>(group) * g32;
  } else {
    group = r / l.groupRows;
    within = r % l.groupRows;
  }
  return group * l.groupStride + within * dim;
}

// Row r as (group, within) under layout l (dense: group 0, within r), for loops that step through
// rows by a small fixed step without a division per row.
struct RowCursor {
  int64_t group, within;
};

__device__ __forceinline__ RowCursor rowCursor(const RowLayout& l, int64_t r) {
  if (l.groupRows == 0) return RowCursor{0, r};
  return RowCursor{r / l.groupRows, r % l.groupRows};
}

// Advances by `step` rows: at most step / groupRows + 1 subtractions.
__device__ __forceinline__ void advance(const RowLayout& l, RowCursor& c, int step) {
  c.within += step;
  if (l.groupRows == 0) return;
  while (c.within >= l.groupRows) {
    c.within -= l.groupRows;
    ++c.group;
  }
}

__device__ __forceinline__ int64_t cursorStart(const RowLayout& l, int64_t dim, const RowCursor& c) {
  return l.groupRows == 0 ? c.within * dim : c.group * l.groupStride + c.within * dim;
}

// ---- forward ----------------------------------------------------------------------------------

// kRowThreads threads per row (32: a warp, kBlockThreads: the whole block), kBlockThreads /
// kRowThreads rows per block, grid-stride over rows.
//   x, y [rows, dim] of T laid out by xl, yl; scale, bias [dim] of P (bias may be null); mean, rstd
//   [rows] or null.
template <typename T, typename P, int kRowThreads>
__global__ void __launch_bounds__(kBlockThreads)
    normFwdKernel(int64_t rows, int64_t dim, float eps, bool center, const T* __restrict__ x,
                  const P* __restrict__ scale, const P* __restrict__ bias, T* __restrict__ y,
                  float* __restrict__ mean, float* __restrict__ rstd, RowLayout xl, RowLayout yl) {
  constexpr int kRowsPerBlock = kBlockThreads / kRowThreads;
  __shared__ float shared[kRowThreads / 32];  // used only when a block holds one row
  const int t = threadIdx.x % kRowThreads;
  const int64_t firstRow = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const int64_t rowStride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  const float invD = 1.0f / static_cast<float>(dim);
  // Every thread of a row runs the same iterations, so the block-wide sums (kRowsPerBlock == 1)
  // are reached by the whole block together.
  for (int64_t r = firstRow; r < rows; r += rowStride) {
    const T* xr = x + rowStart(xl, dim, r);
    T* yr = y + rowStart(yl, dim, r);
    float mu = 0.0f;
    if (center) {
      float s = 0.0f;
      for (int64_t j = t; j < dim; j += kRowThreads) s += loadF32(xr, j);
      mu = __fmul_rn(blockAllSum<kRowThreads>(s, shared), invD);
    }
    float q = 0.0f;
    for (int64_t j = t; j < dim; j += kRowThreads) {
      const float c = __fsub_rn(loadF32(xr, j), mu);
      q += c * c;
    }
    const float var = __fmul_rn(blockAllSum<kRowThreads>(q, shared), invD);
    const float rs = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)));
    for (int64_t j = t; j < dim; j += kRowThreads) {
      // ((x - mu) * rs) * scale (+ bias), each step rounded as on the CPU.
      float v = __fmul_rn(__fmul_rn(__fsub_rn(loadF32(xr, j), mu), rs), loadF32(scale, j));
      if (bias) v = __fadd_rn(v, loadF32(bias, j));
      storeF32(yr, j, v);
    }
    if (t == 0) {
      if (mean) mean[r] = mu;
      if (rstd) rstd[r] = rs;
    }
  }
}

template <typename T, typename P>
void launchFwd(cudaStream_t stream, const LayerNormFwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const P* scale = static_cast<const P*>(a.scale);
  const P* bias = static_cast<const P*>(a.bias);
  T* y = static_cast<T*>(a.y);
  if (a.dim <= kWarpRowMaxDim) {
    normFwdKernel<T, P, 32><<<gridFor(a.rows, kBlockThreads / 32), kBlockThreads, 0, stream>>>(
        a.rows, a.dim, a.eps, a.center, x, scale, bias, y, a.mean, a.rstd, a.xLayout, a.yLayout);
  } else {
    normFwdKernel<T, P, kBlockThreads><<<gridFor(a.rows, 1), kBlockThreads, 0, stream>>>(
        a.rows, a.dim, a.eps, a.center, x, scale, bias, y, a.mean, a.rstd, a.xLayout, a.yLayout);
  }
  checkLaunch("layer_norm_fwd");
}

// ---- backward: dx -----------------------------------------------------------------------------

// With xhat = (x - mu) rs and g = dy * scale, per row:
//   dx = rs * (g - mean(g) - xhat * mean(g xhat))   (mean(g) = 0 without centering)
//   (+ dres when dres is not null; dres may be dx, each element read by the thread that writes it).
template <typename T, typename P, int kRowThreads>
__global__ void __launch_bounds__(kBlockThreads)
    normBwdDxKernel(int64_t rows, int64_t dim, bool center, const T* __restrict__ x,
                    const P* __restrict__ scale, const float* __restrict__ mean,
                    const float* __restrict__ rstd, const T* __restrict__ dy, const T* dres, T* dx,
                    RowLayout xl, RowLayout dyl, RowLayout dresl, RowLayout dxl) {
  constexpr int kRowsPerBlock = kBlockThreads / kRowThreads;
  __shared__ float shared[kRowThreads / 32];
  const int t = threadIdx.x % kRowThreads;
  const int64_t firstRow = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  const int64_t rowStride = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  const float invD = 1.0f / static_cast<float>(dim);
  for (int64_t r = firstRow; r < rows; r += rowStride) {
    const T* xr = x + rowStart(xl, dim, r);
    const T* dyr = dy + rowStart(dyl, dim, r);
    T* dxr = dx + rowStart(dxl, dim, r);
    const T* dresr = dres ? dres + rowStart(dresl, dim, r) : nullptr;
    const float mu = center ? mean[r] : 0.0f;
    const float rs = rstd[r];
    float gx = 0.0f, g = 0.0f;
    for (int64_t j = t; j < dim; j += kRowThreads) {
      const float gj = __fmul_rn(loadF32(dyr, j), loadF32(scale, j));
      gx += gj * __fmul_rn(__fsub_rn(loadF32(xr, j), mu), rs);
      g += gj;
    }
    const float meanGx = __fmul_rn(blockAllSum<kRowThreads>(gx, shared), invD);
    float meanG = 0.0f;
    if (center) meanG = __fmul_rn(blockAllSum<kRowThreads>(g, shared), invD);
    for (int64_t j = t; j < dim; j += kRowThreads) {
      const float h = __fmul_rn(__fsub_rn(loadF32(xr, j), mu), rs);
      const float gj = __fmul_rn(loadF32(dyr, j), loadF32(scale, j));
      // rs * ((g - meanG) - h * meanGx), rounded step by step as the CPU does.
      float v = __fmul_rn(rs, __fsub_rn(__fsub_rn(gj, meanG), __fmul_rn(h, meanGx)));
      if (dresr) v = __fadd_rn(loadF32(dresr, j), v);
      storeF32(dxr, j, v);
    }
  }
}

// ---- backward: dscale / dbias -----------------------------------------------------------------

constexpr int kColTile = 32;   // columns per block of the partial-sum kernel (one per lane)
constexpr int kRowLanes = 8;   // rows summed side by side in that block
constexpr int64_t kTargetPartialBlocks = 2048;
constexpr int64_t kMaxRowBlocks = 1024;

// The row blocking of the parameter-gradient sums: enough blocks of the partial kernel to fill a
// GPU (about kTargetPartialBlocks), never more row blocks than rows. Depends on rows and dim only.
int64_t rowBlocksFor(int64_t rows, int64_t dim) {
  const int64_t colTiles = (dim + kColTile - 1) / kColTile;
  int64_t blocks = (kTargetPartialBlocks + colTiles - 1) / colTiles;
  return std::max<int64_t>(1, std::min({blocks, kMaxRowBlocks, rows}));
}

// Block (column tile bx, row block by), kColTile x kRowLanes threads: column j = bx * 32 + tx,
// rows [r0, r1) of row block by, lane ty takes rows r0 + ty, r0 + ty + 8, ...; then the eight
// lanes are added in lane order. dsPart / dbPart [rowBlocks, dim] (dbPart may be null). x and dy
// are laid out by xl and dyl, walked with row cursors (no division per row).
template <typename T>
__global__ void __launch_bounds__(kColTile * kRowLanes)
    normParamPartialKernel(int64_t rows, int64_t dim, int64_t rowBlocks, bool center,
                           const T* __restrict__ x, const T* __restrict__ dy,
                           const float* __restrict__ mean, const float* __restrict__ rstd,
                           float* __restrict__ dsPart, float* __restrict__ dbPart, RowLayout xl,
                           RowLayout dyl) {
  __shared__ float sds[kRowLanes][kColTile + 1];
  __shared__ float sdb[kRowLanes][kColTile + 1];
  const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  const int64_t rb = blockIdx.y;
  const int64_t r0 = rb * rows / rowBlocks, r1 = (rb + 1) * rows / rowBlocks;
  float ds = 0.0f, db = 0.0f;
  if (j < dim && r0 + ty < r1) {
    RowCursor xc = rowCursor(xl, r0 + ty), dyc = rowCursor(dyl, r0 + ty);
    for (int64_t r = r0 + ty; r < r1; r += kRowLanes) {
      const float mu = center ? mean[r] : 0.0f;
      const float dyv = loadF32(dy, cursorStart(dyl, dim, dyc) + j);
      const float h = __fmul_rn(__fsub_rn(loadF32(x, cursorStart(xl, dim, xc) + j), mu), rstd[r]);
      ds += dyv * h;
      db += dyv;
      advance(xl, xc, kRowLanes);
      advance(dyl, dyc, kRowLanes);
    }
  }
  sds[ty][tx] = ds;
  sdb[ty][tx] = db;
  __syncthreads();
  if (ty == 0 && j < dim) {
    float s = sds[0][tx], b = sdb[0][tx];
#pragma unroll
    for (int l = 1; l < kRowLanes; ++l) {
      s += sds[l][tx];
      b += sdb[l][tx];
    }
    dsPart[rb * dim + j] = s;
    if (dbPart) dbPart[rb * dim + j] = b;
  }
}

// dscale[j] = sum over row blocks (in order) of dsPart[., j]; likewise dbias.
__global__ void normParamFinalizeKernel(int64_t dim, int64_t rowBlocks,
                                        const float* __restrict__ dsPart,
                                        const float* __restrict__ dbPart,
                                        float* __restrict__ dscale, float* __restrict__ dbias) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < dim; j += stride) {
    float s = 0.0f, b = 0.0f;
    for (int64_t rb = 0; rb < rowBlocks; ++rb) {
      s += dsPart[rb * dim + j];
      if (dbias) b += dbPart[rb * dim + j];
    }
    dscale[j] = s;
    if (dbias) dbias[j] = b;
  }
}

template <typename T, typename P>
void launchBwd(cudaStream_t stream, const LayerNormBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  const T* dres = static_cast<const T*>(a.dresidual);
  const P* scale = static_cast<const P*>(a.scale);
  T* dx = static_cast<T*>(a.dx);
  const float* mean = a.center ? a.mean : nullptr;
  // The parameter-gradient partials are taken first, so they read x and dy before dx is written
  // (the addon forbids aliases other than dx == dresidual; this order would keep an in-place dx
  // over x or dy correct too).
  const int64_t rowBlocks = rowBlocksFor(a.rows, a.dim);
  const bool withBias = a.dbias != nullptr;
  const size_t partFloats = static_cast<size_t>(rowBlocks * a.dim);
  float* dsPart = static_cast<float*>(
      streamScratch(stream, partFloats * sizeof(float) * (withBias ? 2 : 1)));
  float* dbPart = withBias ? dsPart + partFloats : nullptr;
  const int64_t colTiles = (a.dim + kColTile - 1) / kColTile;
  if (colTiles > 0x7fffffff) {
    throw Error(ErrorCode::InvalidArgument, "layer_norm_bwd dim is too large for the GPU kernel",
                "dim < 2^36", std::to_string(a.dim));
  }
  dim3 grid(static_cast<unsigned>(colTiles), static_cast<unsigned>(rowBlocks));
  normParamPartialKernel<T><<<grid, kColTile * kRowLanes, 0, stream>>>(
      a.rows, a.dim, rowBlocks, a.center, x, dy, mean, a.rstd, dsPart, dbPart, a.xLayout,
      a.dyLayout);
  checkLaunch("layer_norm_bwd (parameter partial sums)");

  if (a.dim <= kWarpRowMaxDim) {
    normBwdDxKernel<T, P, 32><<<gridFor(a.rows, kBlockThreads / 32), kBlockThreads, 0, stream>>>(
        a.rows, a.dim, a.center, x, scale, mean, a.rstd, dy, dres, dx, a.xLayout, a.dyLayout,
        a.dresidualLayout, a.dxLayout);
  } else {
    normBwdDxKernel<T, P, kBlockThreads><<<gridFor(a.rows, 1), kBlockThreads, 0, stream>>>(
        a.rows, a.dim, a.center, x, scale, mean, a.rstd, dy, dres, dx, a.xLayout, a.dyLayout,
        a.dresidualLayout, a.dxLayout);
  }
  checkLaunch("layer_norm_bwd (dx)");

  normParamFinalizeKernel<<<gridFor(a.dim, 256), 256, 0, stream>>>(a.dim, rowBlocks, dsPart, dbPart,
                                                                     a.dscale, a.dbias);
  checkLaunch("layer_norm_bwd (parameter sums)");
}

void requireStorage(DType t, const char* what) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(what) + " must be f32 or bf16", "f32 or bf16",
                dtypeName(t));
  }
}

}  // namespace

void layerNormFwd(Stream stream, const LayerNormFwdArgs& a) {
  requireStorage(a.dtype, "layer_norm_fwd x/y");
  requireStorage(a.paramType, "layer_norm_fwd scale/bias");
  if (a.rows == 0 || a.dim == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const bool f32 = a.dtype == DType::F32, pf32 = a.paramType == DType::F32;
  if (f32 && pf32) return launchFwd<float, float>(s, a);
  if (f32) return launchFwd<float, uint16_t>(s, a);
  if (pf32) return launchFwd<uint16_t, float>(s, a);
  launchFwd<uint16_t, uint16_t>(s, a);
}

void layerNormBwd(Stream stream, const LayerNormBwdArgs& a) {
  requireStorage(a.dtype, "layer_norm_bwd x/dy/dx");
  requireStorage(a.paramType, "layer_norm_bwd scale");
  if (a.dim == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.rows == 0) {  // an empty sum
    checkCuda(cudaMemsetAsync(a.dscale, 0, a.dim * sizeof(float), s), "layer_norm_bwd memset");
    if (a.dbias) checkCuda(cudaMemsetAsync(a.dbias, 0, a.dim * sizeof(float), s), "layer_norm_bwd memset");
    return;
  }
  const bool f32 = a.dtype == DType::F32, pf32 = a.paramType == DType::F32;
  if (f32 && pf32) return launchBwd<float, float>(s, a);
  if (f32) return launchBwd<float, uint16_t>(s, a);
  if (pf32) return launchBwd<uint16_t, float>(s, a);
  launchBwd<uint16_t, uint16_t>(s, a);
}

}  // namespace vit::cuda
