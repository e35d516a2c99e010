// Tensor-core attention for bf16 storage and head dims up to 128 (cuda/attention.cu selects it;
// the CUDA-core kernels of cuda/attention_kernels.cuh stay the reference path and the fallback).
// Same algorithm and the same determinism as the CUDA-core kernels (forward with an online
// softmax; backward as a dK/dV kernel over key blocks plus a dQ kernel over query blocks, every
// element summed in a fixed order), with the tile products done by WMMA 16x16x16 bf16 -> f32 on
// tiles in shared memory. The one difference in the arithmetic: the tensor cores multiply bf16,
// so P (forward and dV) and dS (dQ, dK) are rounded to bf16 before their products, as every
// flash-attention implementation does; everything else (scores, softmax, accumulation) is f32.
// The forward normalises O by the sum of the rounded P (so O stays an exact weighted mean of V)
// and computes lse from the f32 P, as the CPU does (the backward recomputes P from it).
//
// Only WMMA loads, stores and mma_sync are used (no access to fragment elements, whose layout is
// unspecified), so test/gpu/attention-emulate.cc can run these kernels with a model of WMMA.
//
// 128 threads = 4 warps; warp w owns rows [16w, 16w + 16) of the block's 64-row side (queries in
// the forward and dQ kernels, keys in the dK/dV kernel) and computes them with warpGemm, so the
// other warps' rows are never touched between block barriers. Shared-memory rows are padded to
// keep WMMA's rules (ldm a multiple of 8 bf16 or 4 floats, 32-byte aligned tile pointers):
//   bf16 head tiles [rows][DH + 8], f32 accumulators [rows][DH + 4],
//   f32 score tiles [rows][cols + 4], bf16 score tiles [rows][cols + 8].
#pragma once

#include <cstdint>

#include "core/bf16.h"
#include "cuda/attention_kernels.cuh"

#ifndef VIT_ATTN_EMULATE
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace vit::cuda::attn {

namespace wmma = nvcuda::wmma;
using bf16_t = __nv_bfloat16;

template <bool kCond, typename A, typename B>
struct Pick {
  using type = A;
};
template <typename A, typename B>
struct Pick<false, A, B> {
  using type = B;
};

// c[16][N] = (accumulate ? c : 0) + a[16][K] . b[K][N] for one warp: a, b bf16 in shared memory,
// c f32 row-major with leading dimension ldc. a(i, k) = a[i * lda + k]; b(k, j) = b[k * ldb + j],
// or b[j * ldb + k] when kBTransposed (K^T, V^T, Q^T, dO^T read from row-major [token][d] tiles).
// The k-steps run in ascending order.
template <int N, int K, bool kBTransposed>
__device__ __forceinline__ void warpGemm(const bf16_t* a, int lda, const bf16_t* b, int ldb,
                                         float* c, int ldc, bool accumulate) {
  using BLayout = typename Pick<kBTransposed, wmma::col_major, wmma::row_major>::type;
#pragma unroll 1
  for (int n = 0; n < N / 16; ++n) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    if (accumulate) {
      wmma::load_matrix_sync(acc, c + n * 16, ldc, wmma::mem_row_major);
    } else {
      wmma::fill_fragment(acc, 0.0f);
    }
#pragma unroll
    for (int k = 0; k < K / 16; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, wmma::row_major> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, BLayout> fb;
      wmma::load_matrix_sync(fa, a + k * 16, lda);
      wmma::load_matrix_sync(fb, kBTransposed ? b + n * 16 * ldb + k * 16 : b + k * 16 * ldb + n * 16,
                             ldb);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(c + n * 16, acc, ldc, wmma::mem_row_major);
  }
}

// tile[r][d] = x(t0 + r, d) as bf16 bits for r < rows, d < headDim; 0 elsewhere in [ROWS][DH]
// (the row padding past DH is never read).
template <int DH, int ROWS, int LD>
__device__ __forceinline__ void loadBf16Tile(uint16_t* tile, const uint16_t* slice,
                                             int64_t tokenStride, int64_t t0, int rows,
                                             int headDim) {
  for (int e = threadIdx.x; e < ROWS * DH; e += kThreads) {
    int r = e / DH, d = e % DH;
    tile[r * LD + d] = r < rows && d < headDim ? slice[(t0 + r) * tokenStride + d] : uint16_t{0};
  }
}

// x(t0 + r, d) = f[r][d] * rowScale[r] (rowScale null: 1) rounded to bf16, r < rows, d < headDim.
template <int DH, int ROWS, int LD>
__device__ __forceinline__ void storeBf16Tile(uint16_t* slice, int64_t tokenStride, int64_t t0,
                                              int rows, int headDim, const float* f,
                                              const float* rowScale) {
  for (int e = threadIdx.x; e < ROWS * DH; e += kThreads) {
    int r = e / DH, d = e % DH;
    if (r < rows && d < headDim) {
      float s = rowScale ? rowScale[r] : 1.0f;
      slice[(t0 + r) * tokenStride + d] = floatToBf16(f[r * LD + d] * s);
    }
  }
}

template <int DH>
struct TcDims {
  static constexpr int kLdh = DH + 8;  // bf16 head tiles
  static constexpr int kLdo = DH + 4;  // f32 accumulators
};

// D[i] = sum_d dO[i][d] * O(i0 + i, d), dO from a bf16 tile: one warp per row, fixed butterfly.
template <int ROWS, int LD>
__device__ __forceinline__ void rowDeltaBf16(const uint16_t* dob, const uint16_t* o,
                                             int64_t oToken, int64_t i0, int rows, int headDim,
                                             float* delta) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int i = warp; i < ROWS; i += kWarps) {
    float sum = 0.0f;
    if (i < rows) {
      const uint16_t* orow = o + (i0 + i) * oToken;
      for (int d = lane; d < headDim; d += 32)
        sum = fmaf(bf16ToFloat(dob[i * LD + d]), bf16ToFloat(orow[d]), sum);
    }
    sum = warpSum(sum);
    if (lane == 0) delta[i] = sum;
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: 64 queries x 64 keys per step. Shared memory (bytes, each region a multiple of 32):
//   q, k, v bf16 [64][DH+8]; p bf16 [64][72]; s f32 [64][68]; o f32 [64][DH+4];
//   max, sum (of f32 P), rounded sum (of bf16 P) f32 [64].

constexpr int kTcRows = 64;  // the 64-row side of every tensor-core block (4 warps x 16)

template <int DH>
constexpr int tcFwdSmemBytes() {
  return 3 * kTcRows * TcDims<DH>::kLdh * 2 + kTcRows * 72 * 2 + kTcRows * 68 * 4 +
         kTcRows * TcDims<DH>::kLdo * 4 + 3 * kTcRows * 4;
}

template <int DH>
__global__ void __launch_bounds__(kThreads) attentionFwdTcKernel(FwdParams<uint16_t> p) {
  constexpr int BQ = kTcRows, BK = 64, LDH = TcDims<DH>::kLdh, LDO = TcDims<DH>::kLdo;
  constexpr int LDP = BK + 8, LDS = BK + 4;
  uint16_t* qb = reinterpret_cast<uint16_t*>(dynamicSmem());
  uint16_t* kb = qb + BQ * LDH;
  uint16_t* vb = kb + BK * LDH;
  uint16_t* pb = vb + BK * LDH;
  float* sf = reinterpret_cast<float*>(pb + BQ * LDP);
  float* of = sf + BQ * LDS;
  float* rowMax = of + BQ * LDO;
  float* rowSum = rowMax + BQ;
  float* rowSumRounded = rowSum + BQ;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * BQ;
  const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
  const uint16_t* k = p.k.slice(b, h);
  const uint16_t* v = p.v.slice(b, h);

  loadBf16Tile<DH, BQ, LDH>(qb, p.q.slice(b, h), p.q.token, i0, rows, p.headDim);
  for (int e = tid; e < BQ * LDO; e += kThreads) of[e] = 0.0f;
  for (int i = tid; i < BQ; i += kThreads) {
    rowMax[i] = kNegInf;
    rowSum[i] = 0.0f;
    rowSumRounded[i] = 0.0f;
  }
  const bf16_t* qw = reinterpret_cast<const bf16_t*>(qb) + warp * 16 * LDH;
  const bf16_t* pw = reinterpret_cast<const bf16_t*>(pb) + warp * 16 * LDP;
  float* sw = sf + warp * 16 * LDS;
  float* ow = of + warp * 16 * LDO;

  for (int64_t j0 = 0; j0 < p.tk; j0 += BK) {
    const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
    __syncthreads();  // every warp is done with kb, vb of the previous step
    loadBf16Tile<DH, BK, LDH>(kb, k, p.k.token, j0, cols, p.headDim);
    loadBf16Tile<DH, BK, LDH>(vb, v, p.v.token, j0, cols, p.headDim);
    __syncthreads();

    // S_w = Q_w K^T (unscaled) for the warp's 16 queries.
    warpGemm<BK, DH, true>(qw, LDH, reinterpret_cast<const bf16_t*>(kb), LDH, sw, LDS, false);
    __syncwarp();
    // Online softmax of the warp's rows: P (bf16) and the rescaled accumulator rows.
    for (int r = 0; r < 16; ++r) {
      const int i = warp * 16 + r;
      float x[BK / 32];
      float blockMax = kNegInf;
#pragma unroll
      for (int c = 0; c < BK / 32; ++c) {
        int j = lane + 32 * c;
        x[c] = j < cols ? p.scale * sw[r * LDS + j] : kNegInf;
        blockMax = fmaxf(blockMax, x[c]);
      }
      blockMax = warpMax(blockMax);
      const float oldMax = rowMax[i];
      const float newMax = fmaxf(oldMax, blockMax);
      const float corr = oldMax == kNegInf ? 0.0f : expf(oldMax - newMax);
      float sum = 0.0f, sumRounded = 0.0f;
#pragma unroll
      for (int c = 0; c < BK / 32; ++c) {
        float e = expf(x[c] - newMax);
        uint16_t bits = floatToBf16(e);
        pb[i * LDP + lane + 32 * c] = bits;
        sum += e;
        sumRounded += bf16ToFloat(bits);  // the sum of the P that multiplies V
      }
      sum = warpSum(sum);
      sumRounded = warpSum(sumRounded);
      for (int d = lane; d < DH; d += 32) ow[r * LDO + d] *= corr;
      __syncwarp();  // every lane has read rowMax[i] before lane 0 replaces it
      if (lane == 0) {
        rowSum[i] = rowSum[i] * corr + sum;
        rowSumRounded[i] = rowSumRounded[i] * corr + sumRounded;
        rowMax[i] = newMax;
      }
    }
    __syncwarp();
    // O_w += P_w V.
    warpGemm<DH, BK, false>(pw, LDP, reinterpret_cast<const bf16_t*>(vb), LDH, ow, LDO, true);
  }
  __syncthreads();
  for (int i = tid; i < BQ; i += kThreads) sf[i] = 1.0f / rowSumRounded[i];  // sf is free now
  __syncthreads();
  storeBf16Tile<DH, BQ, LDO>(p.o.slice(b, h), p.o.token, i0, rows, p.headDim, of, sf);
  float* lse = p.lse + bh * p.tq + i0;
  for (int i = tid; i < rows; i += kThreads) lse[i] = rowMax[i] + logf(rowSum[i]);
}

// ---------------------------------------------------------------------------------------------
// dK/dV: 64 keys per block (warp w: keys 16w..16w+15) x 32 queries per step. Shared memory:
//   k, v bf16 [64][DH+8]; q, dO bf16 [32][DH+8]; s^T, dP^T f32 [64][36]; P^T, dS^T bf16 [64][40];
//   dK, dV f32 [64][DH+4]; lse, delta f32 [32].

template <int DH>
constexpr int tcDkDvSmemBytes() {
  return (2 * kTcRows + 2 * 32) * TcDims<DH>::kLdh * 2 + 2 * kTcRows * 36 * 4 +
         2 * kTcRows * 40 * 2 + 2 * kTcRows * TcDims<DH>::kLdo * 4 + 2 * 32 * 4;
}

template <int DH>
__global__ void __launch_bounds__(kThreads) attentionDkDvTcKernel(BwdParams<uint16_t> p) {
  constexpr int BK = kTcRows, BQ = 32, LDH = TcDims<DH>::kLdh, LDO = TcDims<DH>::kLdo;
  constexpr int LDS = BQ + 4, LDP = BQ + 8;
  uint16_t* kb = reinterpret_cast<uint16_t*>(dynamicSmem());
  uint16_t* vb = kb + BK * LDH;
  uint16_t* qb = vb + BK * LDH;
  uint16_t* dob = qb + BQ * LDH;
  float* st = reinterpret_cast<float*>(dob + BQ * LDH);  // S^T [key][query]
  float* dpt = st + BK * LDS;                              // dP^T
  uint16_t* pt = reinterpret_cast<uint16_t*>(dpt + BK * LDS);  // P^T bf16
  uint16_t* dst = pt + BK * LDP;                               // dS^T bf16
  float* dkf = reinterpret_cast<float*>(dst + BK * LDP);
  float* dvf = dkf + BK * LDO;
  float* lseS = dvf + BK * LDO;
  float* delta = lseS + BQ;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * BK;
  const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
  const uint16_t* q = p.q.slice(b, h);
  const uint16_t* dO = p.dO.slice(b, h);
  const uint16_t* o = p.o.slice(b, h);
  const float* lse = p.lse + bh * p.tq;

  loadBf16Tile<DH, BK, LDH>(kb, p.k.slice(b, h), p.k.token, j0, cols, p.headDim);
  loadBf16Tile<DH, BK, LDH>(vb, p.v.slice(b, h), p.v.token, j0, cols, p.headDim);
  for (int e = tid; e < BK * LDO; e += kThreads) dkf[e] = dvf[e] = 0.0f;
  const bf16_t* kw = reinterpret_cast<const bf16_t*>(kb) + warp * 16 * LDH;
  const bf16_t* vw = reinterpret_cast<const bf16_t*>(vb) + warp * 16 * LDH;
  float* stw = st + warp * 16 * LDS;
  float* dptw = dpt + warp * 16 * LDS;

  for (int64_t i0 = 0; i0 < p.tq; i0 += BQ) {
    const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
    __syncthreads();  // every warp is done with qb, dob, lseS, delta of the previous step
    loadBf16Tile<DH, BQ, LDH>(qb, q, p.q.token, i0, rows, p.headDim);
    loadBf16Tile<DH, BQ, LDH>(dob, dO, p.dO.token, i0, rows, p.headDim);
    for (int i = tid; i < BQ; i += kThreads) lseS[i] = i < rows ? lse[i0 + i] : 0.0f;
    __syncthreads();
    rowDeltaBf16<BQ, LDH>(dob, o, p.o.token, i0, rows, p.headDim, delta);
    // S^T_w = K_w Q^T and dP^T_w = V_w dO^T for the warp's 16 keys.
    warpGemm<BQ, DH, true>(kw, LDH, reinterpret_cast<const bf16_t*>(qb), LDH, stw, LDS, false);
    warpGemm<BQ, DH, true>(vw, LDH, reinterpret_cast<const bf16_t*>(dob), LDH, dptw, LDS, false);
    __syncthreads();  // delta (every warp's rows) is written
    for (int r = 0; r < 16; ++r) {
      const int j = warp * 16 + r, i = lane;  // key j, query i (BQ = 32 = one per lane)
      float pv = 0.0f, dsv = 0.0f;
      if (j < cols && i < rows) {
        pv = expf(p.scale * stw[r * LDS + i] - lseS[i]);
        dsv = p.scale * (pv * (dptw[r * LDS + i] - delta[i]));
      }
      pt[j * LDP + i] = floatToBf16(pv);
      dst[j * LDP + i] = floatToBf16(dsv);
    }
    __syncwarp();
    // dV_w += P^T_w dO, dK_w += dS^T_w Q (dS carries the scale).
    warpGemm<DH, BQ, false>(reinterpret_cast<const bf16_t*>(pt) + warp * 16 * LDP, LDP,
                            reinterpret_cast<const bf16_t*>(dob), LDH, dvf + warp * 16 * LDO, LDO,
                            true);
    warpGemm<DH, BQ, false>(reinterpret_cast<const bf16_t*>(dst) + warp * 16 * LDP, LDP,
                            reinterpret_cast<const bf16_t*>(qb), LDH, dkf + warp * 16 * LDO, LDO,
                            true);
  }
  __syncthreads();
  storeBf16Tile<DH, BK, LDO>(p.dK.slice(b, h), p.dK.token, j0, cols, p.headDim, dkf, nullptr);
  storeBf16Tile<DH, BK, LDO>(p.dV.slice(b, h), p.dV.token, j0, cols, p.headDim, dvf, nullptr);
}

// ---------------------------------------------------------------------------------------------
// dQ: 64 queries per block (warp w: queries 16w..16w+15) x 32 keys per step. Shared memory:
//   q, dO bf16 [64][DH+8]; k, v bf16 [32][DH+8]; s, dP f32 [64][36]; dS bf16 [64][40];
//   dQ f32 [64][DH+4]; lse, delta f32 [64].

template <int DH>
constexpr int tcDqSmemBytes() {
  return (2 * kTcRows + 2 * 32) * TcDims<DH>::kLdh * 2 + 2 * kTcRows * 36 * 4 +
         kTcRows * 40 * 2 + kTcRows * TcDims<DH>::kLdo * 4 + 2 * kTcRows * 4;
}

template <int DH>
__global__ void __launch_bounds__(kThreads) attentionDqTcKernel(BwdParams<uint16_t> p) {
  constexpr int BQ = kTcRows, BK = 32, LDH = TcDims<DH>::kLdh, LDO = TcDims<DH>::kLdo;
  constexpr int LDS = BK + 4, LDP = BK + 8;
  uint16_t* qb = reinterpret_cast<uint16_t*>(dynamicSmem());
  uint16_t* dob = qb + BQ * LDH;
  uint16_t* kb = dob + BQ * LDH;
  uint16_t* vb = kb + BK * LDH;
  float* sf = reinterpret_cast<float*>(vb + BK * LDH);
  float* dpf = sf + BQ * LDS;
  uint16_t* dsb = reinterpret_cast<uint16_t*>(dpf + BQ * LDS);
  float* dqf = reinterpret_cast<float*>(dsb + BQ * LDP);
  float* lseS = dqf + BQ * LDO;
  float* delta = lseS + BQ;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * BQ;
  const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
  const uint16_t* k = p.k.slice(b, h);
  const uint16_t* v = p.v.slice(b, h);

  loadBf16Tile<DH, BQ, LDH>(qb, p.q.slice(b, h), p.q.token, i0, rows, p.headDim);
  loadBf16Tile<DH, BQ, LDH>(dob, p.dO.slice(b, h), p.dO.token, i0, rows, p.headDim);
  const float* lse = p.lse + bh * p.tq + i0;
  for (int i = tid; i < BQ; i += kThreads) lseS[i] = i < rows ? lse[i] : 0.0f;
  for (int e = tid; e < BQ * LDO; e += kThreads) dqf[e] = 0.0f;
  __syncthreads();
  rowDeltaBf16<BQ, LDH>(dob, p.o.slice(b, h), p.o.token, i0, rows, p.headDim, delta);
  const bf16_t* qw = reinterpret_cast<const bf16_t*>(qb) + warp * 16 * LDH;
  const bf16_t* dow = reinterpret_cast<const bf16_t*>(dob) + warp * 16 * LDH;
  float* sw = sf + warp * 16 * LDS;
  float* dpw = dpf + warp * 16 * LDS;

  for (int64_t j0 = 0; j0 < p.tk; j0 += BK) {
    const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
    __syncthreads();  // delta is written (first step); every warp is done with kb, vb
    loadBf16Tile<DH, BK, LDH>(kb, k, p.k.token, j0, cols, p.headDim);
    loadBf16Tile<DH, BK, LDH>(vb, v, p.v.token, j0, cols, p.headDim);
    __syncthreads();
    warpGemm<BK, DH, true>(qw, LDH, reinterpret_cast<const bf16_t*>(kb), LDH, sw, LDS, false);
    warpGemm<BK, DH, true>(dow, LDH, reinterpret_cast<const bf16_t*>(vb), LDH, dpw, LDS, false);
    __syncwarp();
    for (int r = 0; r < 16; ++r) {
      const int i = warp * 16 + r, j = lane;  // query i, key j (BK = 32 = one per lane)
      float dsv = 0.0f;
      if (i < rows && j < cols) {
        float pv = expf(p.scale * sw[r * LDS + j] - lseS[i]);
        dsv = p.scale * (pv * (dpw[r * LDS + j] - delta[i]));
      }
      dsb[i * LDP + j] = floatToBf16(dsv);
    }
    __syncwarp();
    // dQ_w += dS_w K (dS carries the scale).
    warpGemm<DH, BK, false>(reinterpret_cast<const bf16_t*>(dsb) + warp * 16 * LDP, LDP,
                            reinterpret_cast<const bf16_t*>(kb), LDH, dqf + warp * 16 * LDO, LDO,
                            true);
  }
  __syncthreads();
  storeBf16Tile<DH, BQ, LDO>(p.dQ.slice(b, h), p.dQ.token, i0, rows, p.headDim, dqf, nullptr);
}

}  // namespace vit::cuda::attn
