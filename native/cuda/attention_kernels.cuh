// The device code of fused attention (lib/kernels/attention_fwd.ts AttentionFwdArgs / AttentionBwdArgs), included by
// cuda/attention.cu (launches, checks) and by test/native/attention_emulate.cc, which runs these
// very kernels on the CPU through a small emulation of blocks, __syncthreads and warp shuffles so
// their indexing is tested on machines without a GPU. Nothing here may use a CUDA feature that
// the emulation lacks: only __syncthreads, __shfl_xor_sync over full warps, dynamic shared
// memory through dynamicSmem(), and plain f32 math (expf, logf, fmaf, fmaxf).
//
// Flash style, CUDA cores, f32 math throughout. Every block has 128 threads; for the tile
// products they form a 16 (tx) x 8 (ty) grid and thread (tx, ty) owns the output rows ty + 8r and
// the columns tx + 16c of each tile, so no two threads ever write the same element and every
// element is summed by one thread in a fixed order (deterministic, no atomics).
// Shared-memory tiles are f32 and row-major with one float of padding per row ([rows][DH + 1],
// [rows][BK + 1]): the column reads of the products then hit 16 or 32 different banks.
//   Q-side tiles  [BQ][DH + 1]   rows past Tq and columns past headDim are zero
//   K-side tiles  [BK][DH + 1]   rows past Tk and columns past headDim are zero
//   score tiles   [BQ][BK + 1]   S, P, dS of one (query block, key block) pair
// DH is the head dim rounded up to 32, 64, 128 or 256 (the padding costs only arithmetic on zeros).
#pragma once

#include <cstdint>

#include "core/bf16.h"

namespace vit::cuda::attn {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr float kNegInf = -__builtin_huge_valf();

#ifndef VIT_ATTN_EMULATE
// The block's dynamic shared memory, sized by the launch; 128-byte aligned because the
// tensor-core kernels (attention_tc_kernels.cuh) need 32-byte aligned WMMA tile pointers.
__device__ __forceinline__ float* dynamicSmem() {
  extern __shared__ __align__(128) float4 attnSmem[];
  return reinterpret_cast<float*>(attnSmem);
}
#endif

__device__ __forceinline__ float toFloat(float x) { return x; }
__device__ __forceinline__ float toFloat(uint16_t x) { return bf16ToFloat(x); }
__device__ __forceinline__ void storeAs(float* p, float v) { *p = v; }
__device__ __forceinline__ void storeAs(uint16_t* p, float v) { *p = floatToBf16(v); }

// One [B, T, H, Dh] operand: element (b, t, h, d) at p[b * batch + t * token + h * head + d].
template <typename T>
struct Operand {
  T* p;
  int64_t batch, token, head;
  __device__ __forceinline__ T* slice(int64_t b, int64_t h) const { return p + b * batch + h * head; }
};

template <typename T>
struct FwdParams {
  int64_t heads, tq, tk;
  int headDim;
  float scale;
  Operand<const T> q, k, v;
  Operand<T> o;
  float* lse;  // [B, H, Tq]
};

template <typename T>
struct BwdParams {
  int64_t heads, tq, tk;
  int headDim;
  float scale;
  Operand<const T> q, k, v, o, dO;
  const float* lse;  // [B, H, Tq]
  Operand<T> dQ, dK, dV;
};

__device__ __forceinline__ float warpMax(float v) {
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// The same butterfly on every lane, so every lane ends with the same (bitwise) sum.
__device__ __forceinline__ float warpSum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// tile[r][d] = x(t0 + r, d) for r < rows and d < headDim, 0 elsewhere in [ROWS][DH]. Consecutive
// threads read consecutive d of a token (coalesced along the head).
template <typename T, int DH, int ROWS>
__device__ __forceinline__ void loadTile(float* tile, const T* slice, int64_t tokenStride,
                                         int64_t t0, int rows, int headDim) {
  for (int e = threadIdx.x; e < ROWS * DH; e += kThreads) {
    int r = e / DH, d = e % DH;
    float v = 0.0f;
    if (r < rows && d < headDim) v = toFloat(slice[(t0 + r) * tokenStride + d]);
    tile[r * (DH + 1) + d] = v;
  }
}

// acc[r][c] = sum_d a[ty + 8r][d] * b[tx + 16c][d]: a [ROWS][DH + 1], b [COLS][DH + 1]; the sum
// runs over d in ascending order.
template <int ROWS, int COLS, int DH>
__device__ __forceinline__ void dotTile(const float* a, const float* b,
                                        float (&acc)[ROWS / 8][COLS / 16]) {
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
  for (int r = 0; r < ROWS / 8; ++r)
#pragma unroll
    for (int c = 0; c < COLS / 16; ++c) acc[r][c] = 0.0f;
#pragma unroll 4
  for (int d = 0; d < DH; ++d) {
    float av[ROWS / 8], bv[COLS / 16];
#pragma unroll
    for (int r = 0; r < ROWS / 8; ++r) av[r] = a[(ty + 8 * r) * (DH + 1) + d];
#pragma unroll
    for (int c = 0; c < COLS / 16; ++c) bv[c] = b[(tx + 16 * c) * (DH + 1) + d];
#pragma unroll
    for (int r = 0; r < ROWS / 8; ++r)
#pragma unroll
      for (int c = 0; c < COLS / 16; ++c) acc[r][c] = fmaf(av[r], bv[c], acc[r][c]);
  }
}

// acc[r][c] += sum_{j < K} m(ty + 8r, j) * x[j][tx + 16c], j ascending, with x [K][DH + 1] and m
// a score tile of leading dimension ldm: m(i, j) = m[i * ldm + j], or m[j * ldm + i] when
// kTransposed (dK and dV sum P^T and dS^T over the queries).
template <int ROWS, int K, int DH, bool kTransposed>
__device__ __forceinline__ void mulAcc(const float* m, int ldm, const float* x,
                                       float (&acc)[ROWS / 8][DH / 16]) {
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll 2
  for (int j = 0; j < K; ++j) {
    float mv[ROWS / 8], xv[DH / 16];
#pragma unroll
    for (int r = 0; r < ROWS / 8; ++r)
      mv[r] = kTransposed ? m[j * ldm + ty + 8 * r] : m[(ty + 8 * r) * ldm + j];
#pragma unroll
    for (int c = 0; c < DH / 16; ++c) xv[c] = x[j * (DH + 1) + tx + 16 * c];
#pragma unroll
    for (int r = 0; r < ROWS / 8; ++r)
#pragma unroll
      for (int c = 0; c < DH / 16; ++c) acc[r][c] = fmaf(mv[r], xv[c], acc[r][c]);
  }
}

// x(t0 + ty + 8r, tx + 16c) = acc[r][c] * rowScale(r), rounded once, for valid rows and d < headDim.
template <typename T, int ROWS, int DH>
__device__ __forceinline__ void storeTile(T* slice, int64_t tokenStride, int64_t t0, int rows,
                                          int headDim, const float (&acc)[ROWS / 8][DH / 16],
                                          const float* rowScale) {
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
  for (int r = 0; r < ROWS / 8; ++r) {
    int i = ty + 8 * r;
    if (i >= rows) continue;
    float s = rowScale ? rowScale[i] : 1.0f;
    T* out = slice + (t0 + i) * tokenStride;
#pragma unroll
    for (int c = 0; c < DH / 16; ++c) {
      int d = tx + 16 * c;
      if (d < headDim) storeAs(out + d, acc[r][c] * s);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: block (bh, query block). Q stays in shared memory; key blocks stream through; the
// output accumulates in registers with a running max and sum per row (online softmax).
// Shared memory: q [BQ][DH+1], k [BK][DH+1], v [BK][DH+1], s [BQ][BK+1], rowMax, rowSum, rowCorr [BQ].

template <int DH, int BQ, int BK>
constexpr int fwdSmemFloats() {
  return (BQ + 2 * BK) * (DH + 1) + BQ * (BK + 1) + 3 * BQ;
}

template <typename T, int DH, int BQ, int BK>
__global__ void __launch_bounds__(kThreads) attentionFwdKernel(FwdParams<T> p) {
  static_assert(BQ % 8 == 0 && BQ % kWarps == 0 && BK % 32 == 0 && DH % 16 == 0, "tile sizes");
  float* qs = dynamicSmem();
  float* ks = qs + BQ * (DH + 1);
  float* vs = ks + BK * (DH + 1);
  float* ss = vs + BK * (DH + 1);
  float* rowMax = ss + BQ * (BK + 1);
  float* rowSum = rowMax + BQ;
  float* rowCorr = rowSum + BQ;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int tx = tid % 16, ty = tid / 16;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * BQ;
  const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
  const T* q = p.q.slice(b, h);
  const T* k = p.k.slice(b, h);
  const T* v = p.v.slice(b, h);

  loadTile<T, DH, BQ>(qs, q, p.q.token, i0, rows, p.headDim);
  for (int i = tid; i < BQ; i += kThreads) {
    rowMax[i] = kNegInf;
    rowSum[i] = 0.0f;
  }
  float acc[BQ / 8][DH / 16];
#pragma unroll
  for (int r = 0; r < BQ / 8; ++r)
#pragma unroll
    for (int c = 0; c < DH / 16; ++c) acc[r][c] = 0.0f;

  for (int64_t j0 = 0; j0 < p.tk; j0 += BK) {
    const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
    __syncthreads();  // the previous block's readers of ks, vs and ss are done
    loadTile<T, DH, BK>(ks, k, p.k.token, j0, cols, p.headDim);
    // Padded key rows of V must be 0, not stale: their probability is 0 and 0 * NaN is NaN.
    loadTile<T, DH, BK>(vs, v, p.v.token, j0, cols, p.headDim);
    __syncthreads();

    float s[BQ / 8][BK / 16];
    dotTile<BQ, BK, DH>(qs, ks, s);
#pragma unroll
    for (int r = 0; r < BQ / 8; ++r)
#pragma unroll
      for (int c = 0; c < BK / 16; ++c) ss[(ty + 8 * r) * (BK + 1) + tx + 16 * c] = p.scale * s[r][c];
    __syncthreads();

    // Online softmax, one warp per row: new running max, the factor that rescales what earlier
    // key blocks accumulated, and P = exp(s - max) in place (0 for keys past Tk).
    for (int i = warp; i < BQ; i += kWarps) {
      float* row = ss + i * (BK + 1);
      float x[BK / 32];
      float blockMax = kNegInf;
#pragma unroll
      for (int c = 0; c < BK / 32; ++c) {
        int j = lane + 32 * c;
        x[c] = j < cols ? row[j] : kNegInf;
        blockMax = fmaxf(blockMax, x[c]);
      }
      blockMax = warpMax(blockMax);
      const float oldMax = rowMax[i];
      const float newMax = fmaxf(oldMax, blockMax);
      const float corr = oldMax == kNegInf ? 0.0f : expf(oldMax - newMax);
      float sum = 0.0f;
#pragma unroll
      for (int c = 0; c < BK / 32; ++c) {
        float e = expf(x[c] - newMax);  // exp(-inf) = 0 for the padded keys
        row[lane + 32 * c] = e;
        sum += e;
      }
      sum = warpSum(sum);
      __syncwarp();  // every lane has read rowMax[i] before lane 0 replaces it
      if (lane == 0) {
        rowSum[i] = rowSum[i] * corr + sum;
        rowMax[i] = newMax;
        rowCorr[i] = corr;
      }
    }
    __syncthreads();

#pragma unroll
    for (int r = 0; r < BQ / 8; ++r) {
      const float corr = rowCorr[ty + 8 * r];
#pragma unroll
      for (int c = 0; c < DH / 16; ++c) acc[r][c] *= corr;
    }
    mulAcc<BQ, BK, DH, false>(ss, BK + 1, vs, acc);
  }
  __syncthreads();

  // rowCorr is free now: the reciprocal of each row's sum, applied once as on the CPU.
  for (int i = tid; i < BQ; i += kThreads) rowCorr[i] = 1.0f / rowSum[i];
  __syncthreads();
  storeTile<T, BQ, DH>(p.o.slice(b, h), p.o.token, i0, rows, p.headDim, acc, rowCorr);
  float* lse = p.lse + bh * p.tq + i0;
  for (int i = tid; i < rows; i += kThreads) lse[i] = rowMax[i] + logf(rowSum[i]);
}

// ---------------------------------------------------------------------------------------------
// Backward. Two kernels, so that no gradient element has two writers and no atomics are needed:
//   dK/dV: block (bh, key block) keeps K, V in shared memory and dK, dV in registers, and walks
//          every query block in ascending order;
//   dQ:    block (bh, query block) keeps Q, dO in shared memory and dQ in registers, and walks
//          every key block in ascending order.
// Both recompute P = exp(scale * Q K^T - L) and dS = scale * P * (dO V^T - D) for their pairs (the
// price of determinism without a [Tq, Tk] buffer). D = rowsum(dO * O) of a query block is
// recomputed where it is needed, from dO in shared memory and O read once from global memory.

// D[i] = sum_d dO[i][d] * O(i0 + i, d) for i < rows (0 for the padded rows): one warp per row,
// lanes over d, then the fixed butterfly.
template <typename T, int DH, int BQ>
__device__ __forceinline__ void rowDelta(const float* dos, const T* o, int64_t oToken, int64_t i0,
                                         int rows, int headDim, float* delta) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int i = warp; i < BQ; i += kWarps) {
    float sum = 0.0f;
    if (i < rows) {
      const T* orow = o + (i0 + i) * oToken;
      for (int d = lane; d < headDim; d += 32) sum = fmaf(dos[i * (DH + 1) + d], toFloat(orow[d]), sum);
    }
    sum = warpSum(sum);
    if (lane == 0) delta[i] = sum;
  }
}

// P and dS of one (query block, key block) pair into ps, dss [BQ][BK+1], from the Q, dO tiles
// [BQ][DH+1], the K, V tiles [BK][DH+1], and lse, delta [BQ]. Zero outside rows x cols.
template <int DH, int BQ, int BK>
__device__ __forceinline__ void pairScores(const float* qs, const float* dos, const float* ks,
                                           const float* vs, const float* lse, const float* delta,
                                           int rows, int cols, float scale, float* ps, float* dss) {
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float s[BQ / 8][BK / 16], dp[BQ / 8][BK / 16];
  dotTile<BQ, BK, DH>(qs, ks, s);
  dotTile<BQ, BK, DH>(dos, vs, dp);
#pragma unroll
  for (int r = 0; r < BQ / 8; ++r) {
    const int i = ty + 8 * r;
#pragma unroll
    for (int c = 0; c < BK / 16; ++c) {
      const int j = tx + 16 * c;
      float pv = 0.0f, dsv = 0.0f;
      if (i < rows && j < cols) {
        pv = expf(scale * s[r][c] - lse[i]);
        dsv = scale * (pv * (dp[r][c] - delta[i]));
      }
      if (ps) ps[i * (BK + 1) + j] = pv;
      dss[i * (BK + 1) + j] = dsv;
    }
  }
}

// dK/dV shared memory: k, v [BK][DH+1], q, dO [BQ][DH+1], p, ds [BQ][BK+1], lse, delta [BQ].
template <int DH, int BQ, int BK>
constexpr int dkdvSmemFloats() {
  return (2 * BK + 2 * BQ) * (DH + 1) + 2 * BQ * (BK + 1) + 2 * BQ;
}

template <typename T, int DH, int BQ, int BK>
__global__ void __launch_bounds__(kThreads) attentionDkDvKernel(BwdParams<T> p) {
  static_assert(BQ % 8 == 0 && BQ % kWarps == 0 && BK % 16 == 0 && DH % 16 == 0, "tile sizes");
  float* ks = dynamicSmem();
  float* vs = ks + BK * (DH + 1);
  float* qs = vs + BK * (DH + 1);
  float* dos = qs + BQ * (DH + 1);
  float* ps = dos + BQ * (DH + 1);
  float* dss = ps + BQ * (BK + 1);
  float* lseS = dss + BQ * (BK + 1);
  float* delta = lseS + BQ;
  const int tid = threadIdx.x;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * BK;
  const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
  const T* q = p.q.slice(b, h);
  const T* dO = p.dO.slice(b, h);
  const T* o = p.o.slice(b, h);
  const float* lse = p.lse + bh * p.tq;

  loadTile<T, DH, BK>(ks, p.k.slice(b, h), p.k.token, j0, cols, p.headDim);
  loadTile<T, DH, BK>(vs, p.v.slice(b, h), p.v.token, j0, cols, p.headDim);
  float dk[BK / 8][DH / 16], dv[BK / 8][DH / 16];
#pragma unroll
  for (int r = 0; r < BK / 8; ++r)
#pragma unroll
    for (int c = 0; c < DH / 16; ++c) dk[r][c] = dv[r][c] = 0.0f;

  for (int64_t i0 = 0; i0 < p.tq; i0 += BQ) {
    const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
    __syncthreads();  // the previous query block's readers of qs, dos, ps, dss are done
    loadTile<T, DH, BQ>(qs, q, p.q.token, i0, rows, p.headDim);
    loadTile<T, DH, BQ>(dos, dO, p.dO.token, i0, rows, p.headDim);
    for (int i = tid; i < BQ; i += kThreads) lseS[i] = i < rows ? lse[i0 + i] : 0.0f;
    __syncthreads();
    rowDelta<T, DH, BQ>(dos, o, p.o.token, i0, rows, p.headDim, delta);
    __syncthreads();
    pairScores<DH, BQ, BK>(qs, dos, ks, vs, lseS, delta, rows, cols, p.scale, ps, dss);
    __syncthreads();
    mulAcc<BK, BQ, DH, true>(ps, BK + 1, dos, dv);   // dV += P^T dO
    mulAcc<BK, BQ, DH, true>(dss, BK + 1, qs, dk);   // dK += dS^T Q (dS carries the scale)
  }
  // With Tq = 0 the loop never ran: dK and dV are sums over nothing, written as zeros.
  storeTile<T, BK, DH>(p.dK.slice(b, h), p.dK.token, j0, cols, p.headDim, dk, nullptr);
  storeTile<T, BK, DH>(p.dV.slice(b, h), p.dV.token, j0, cols, p.headDim, dv, nullptr);
}

// dQ shared memory: q, dO [BQ][DH+1], k, v [BK][DH+1], ds [BQ][BK+1], lse, delta [BQ].
template <int DH, int BQ, int BK>
constexpr int dqSmemFloats() {
  return (2 * BQ + 2 * BK) * (DH + 1) + BQ * (BK + 1) + 2 * BQ;
}

template <typename T, int DH, int BQ, int BK>
__global__ void __launch_bounds__(kThreads) attentionDqKernel(BwdParams<T> p) {
  static_assert(BQ % 8 == 0 && BQ % kWarps == 0 && BK % 16 == 0 && DH % 16 == 0, "tile sizes");
  float* qs = dynamicSmem();
  float* dos = qs + BQ * (DH + 1);
  float* ks = dos + BQ * (DH + 1);
  float* vs = ks + BK * (DH + 1);
  float* dss = vs + BK * (DH + 1);
  float* lseS = dss + BQ * (BK + 1);
  float* delta = lseS + BQ;
  const int tid = threadIdx.x;

  const int64_t bh = blockIdx.x, b = bh / p.heads, h = bh % p.heads;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * BQ;
  const int rows = static_cast<int>(p.tq - i0 < BQ ? p.tq - i0 : BQ);
  const T* k = p.k.slice(b, h);
  const T* v = p.v.slice(b, h);

  loadTile<T, DH, BQ>(qs, p.q.slice(b, h), p.q.token, i0, rows, p.headDim);
  loadTile<T, DH, BQ>(dos, p.dO.slice(b, h), p.dO.token, i0, rows, p.headDim);
  const float* lse = p.lse + bh * p.tq + i0;
  for (int i = tid; i < BQ; i += kThreads) lseS[i] = i < rows ? lse[i] : 0.0f;
  __syncthreads();
  rowDelta<T, DH, BQ>(dos, p.o.slice(b, h), p.o.token, i0, rows, p.headDim, delta);

  float dq[BQ / 8][DH / 16];
#pragma unroll
  for (int r = 0; r < BQ / 8; ++r)
#pragma unroll
    for (int c = 0; c < DH / 16; ++c) dq[r][c] = 0.0f;

  for (int64_t j0 = 0; j0 < p.tk; j0 += BK) {
    const int cols = static_cast<int>(p.tk - j0 < BK ? p.tk - j0 : BK);
    __syncthreads();  // delta is written (first block); the previous readers of ks, vs, dss are done
    loadTile<T, DH, BK>(ks, k, p.k.token, j0, cols, p.headDim);
    loadTile<T, DH, BK>(vs, v, p.v.token, j0, cols, p.headDim);
    __syncthreads();
    pairScores<DH, BQ, BK>(qs, dos, ks, vs, lseS, delta, rows, cols, p.scale, nullptr, dss);
    __syncthreads();
    mulAcc<BQ, BK, DH, false>(dss, BK + 1, ks, dq);  // dQ += dS K (dS carries the scale)
  }
  storeTile<T, BQ, DH>(p.dQ.slice(b, h), p.dQ.token, i0, rows, p.headDim, dq, nullptr);
}

}  // namespace vit::cuda::attn
