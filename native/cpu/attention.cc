// Fused multi-head attention on the CPU, forward and backward (lib/kernels/attention_fwd.ts AttentionFwdArgs /
// AttentionBwdArgs): tiling, online softmax, storage conversion and threading around the f32 tile
// arithmetic of cpu/attention_blocks.h.
//
// Every tile is converted to f32 once per use and zero-padded: query blocks of up to 64 rows, key
// blocks of exactly 64 rows (keys past Tk get score -inf, so probability 0), head dims rounded up
// to 16 columns. No thread ever holds more than one [64 x 64] block of scores.
//
// Forward: one task per (batch, head, query block); keys are visited in blocks with a running max
// and sum (flash attention), so each output row is the work of one task in a fixed order.
// Backward: one key block's dK/dV and one query block's dQ each sum over the other side's blocks
// in ascending order, through the same pair routine, whichever task runs them:
//   many (batch, head) pairs:  one task per (b, h), key blocks outer, query blocks inner, dQ kept
//                              in an f32 scratch of the head (5 tile products per block pair);
//   few pairs (< 2 per thread): tasks per (b, h, key block) for dK/dV, then per (b, h, query
//                              block) for dQ, recomputing P and dS (7 products, all threads busy).
// Both schedules give bitwise identical results, so the choice may follow the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/attention_blocks.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kB = kAttentionBlock;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

const AttentionBlockOps& selectOps() {
  return activeIsa() >= Isa::Avx512 ? kAttentionAvx512 : kAttentionScalar;
}

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

void requireStorage(DType t, const char* kernel) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " supports f32 and bf16 storage",
                "f32 or bf16", dtypeName(t));
  }
}

// One (batch, head) slice of a [B, T, H, Dh] operand: token t starts at base + t * tokenStride.
struct Slice {
  DType dtype;
  const char* base;  // bytes
  int64_t tokenStride;  // elements
  int64_t headDim;

  const char* token(int64_t t) const {
    return base + t * tokenStride * static_cast<int64_t>(dtypeSize(dtype));
  }
};

Slice sliceOf(DType dtype, const void* data, const HeadStrides& s, int64_t b, int64_t h,
              int64_t headDim) {
  int64_t elem = static_cast<int64_t>(dtypeSize(dtype));
  return {dtype, static_cast<const char*>(data) + (b * s.batch + h * s.head) * elem, s.token,
          headDim};
}

// tile[r][d] = x(t0 + r, d) for r < rows, zero for d in [Dh, width) and rows in [rows, padRows).
void loadRows(const Slice& x, int64_t t0, int64_t rows, int64_t padRows, int64_t width,
              float* tile) {
  for (int64_t r = 0; r < padRows; ++r) {
    float* out = tile + r * width;
    int64_t d = 0;
    if (r < rows) {
      if (x.dtype == DType::F32) {
        const float* in = reinterpret_cast<const float*>(x.token(t0 + r));
        for (; d < x.headDim; ++d) out[d] = in[d];
      } else {
        const uint16_t* in = reinterpret_cast<const uint16_t*>(x.token(t0 + r));
        for (; d < x.headDim; ++d) out[d] = bf16ToFloat(in[d]);
      }
    }
    for (; d < width; ++d) out[d] = 0.0f;
  }
}

// tile[d][r] = x(t0 + r, d): a key block transposed, [width][kB], zero-padded both ways.
void loadTransposed(const Slice& x, int64_t t0, int64_t rows, int64_t width, float* tile) {
  std::fill(tile, tile + width * kB, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    if (x.dtype == DType::F32) {
      const float* in = reinterpret_cast<const float*>(x.token(t0 + r));
      for (int64_t d = 0; d < x.headDim; ++d) tile[d * kB + r] = in[d];
    } else {
      const uint16_t* in = reinterpret_cast<const uint16_t*>(x.token(t0 + r));
      for (int64_t d = 0; d < x.headDim; ++d) tile[d * kB + r] = bf16ToFloat(in[d]);
    }
  }
}

// x(t0 + r, d) = tile[r][d] * rowScale[r] (rowScale null: 1), rounded once to the storage type.
void storeRows(const Slice& x, int64_t t0, int64_t rows, int64_t width, const float* tile,
               const float* rowScale) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = tile + r * width;
    float s = rowScale ? rowScale[r] : 1.0f;
    char* dst = const_cast<char*>(x.token(t0 + r));
    if (x.dtype == DType::F32) {
      float* out = reinterpret_cast<float*>(dst);
      for (int64_t d = 0; d < x.headDim; ++d) out[d] = in[d] * s;
    } else {
      uint16_t* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t d = 0; d < x.headDim; ++d) out[d] = floatToBf16(in[d] * s);
    }
  }
}

// Per-thread tiles, grown on demand and kept between calls.
struct Tiles {
  std::vector<float> q, dO, o, kt, k, vt, v, s, ds, dk, dv, dq, lse, delta;
  static float* sized(std::vector<float>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
    return buf.data();
  }
};

thread_local Tiles tls;

int64_t paddedWidth(int64_t headDim) { return ceilDiv(headDim, 16) * 16; }

// ---------------------------------------------------------------------------------------------
// Forward

void forwardTask(const AttentionFwdArgs& a, const AttentionBlockOps& ops, int64_t task) {
  int64_t qBlocks = ceilDiv(a.tq, kB);
  int64_t bh = task / qBlocks, i0 = task % qBlocks * kB;
  int64_t b = bh / a.heads, h = bh % a.heads;
  int64_t rows = std::min(kB, a.tq - i0);
  int64_t width = paddedWidth(a.headDim);

  Slice q = sliceOf(a.dtype, a.q, a.qStrides, b, h, a.headDim);
  Slice k = sliceOf(a.dtype, a.k, a.kStrides, b, h, a.headDim);
  Slice v = sliceOf(a.dtype, a.v, a.vStrides, b, h, a.headDim);
  Slice o = sliceOf(a.dtype, a.o, a.oStrides, b, h, a.headDim);

  float* qt = Tiles::sized(tls.q, kB * width);   // [rows][width]
  float* acc = Tiles::sized(tls.o, kB * width);  // [rows][width], unnormalised output
  float* kt = Tiles::sized(tls.kt, width * kB);  // [width][kB]
  float* vt = Tiles::sized(tls.v, kB * width);   // [kB][width]
  float* s = Tiles::sized(tls.s, kB * kB);       // [rows][kB]
  float rowMax[kB], rowSum[kB];
  loadRows(q, i0, rows, rows, width, qt);
  std::fill(acc, acc + rows * width, 0.0f);
  std::fill(rowMax, rowMax + rows, kNegInf);
  std::fill(rowSum, rowSum + rows, 0.0f);

  for (int64_t j0 = 0; j0 < a.tk; j0 += kB) {
    int64_t cols = std::min(kB, a.tk - j0);
    loadTransposed(k, j0, cols, width, kt);
    loadRows(v, j0, cols, kB, width, vt);  // padded key rows must be 0, not stale: 0 * NaN
    ops.scores(qt, kt, s, rows, width, a.scale);
    for (int64_t i = 0; i < rows; ++i) {
      float* row = s + i * kB;
      float blockMax = kNegInf;
      for (int64_t j = 0; j < cols; ++j) blockMax = std::max(blockMax, row[j]);
      for (int64_t j = cols; j < kB; ++j) row[j] = kNegInf;
      float newMax = std::max(rowMax[i], blockMax);
      // Rescale what earlier blocks accumulated to the new maximum (nothing to do on the first).
      float correction = rowMax[i] == kNegInf ? 0.0f : std::exp(rowMax[i] - newMax);
      if (correction != 1.0f) {
        float* out = acc + i * width;
        for (int64_t d = 0; d < width; ++d) out[d] *= correction;
      }
      rowSum[i] = rowSum[i] * correction + ops.expShifted(row, kB, newMax);
      rowMax[i] = newMax;
    }
    ops.accumulateRows(s, vt, acc, rows, width);
  }

  float inverse[kB];
  float* lse = a.lse + bh * a.tq + i0;
  for (int64_t i = 0; i < rows; ++i) {
    inverse[i] = 1.0f / rowSum[i];
    lse[i] = rowMax[i] + std::log(rowSum[i]);
  }
  storeRows(o, i0, rows, width, acc, inverse);
}

// ---------------------------------------------------------------------------------------------
// Backward

// The f32 tiles of one query block: Q, dO, L and D = rowsum(dO * O).
struct QueryBlock {
  const float* q;   // [rows][width]
  const float* dO;  // [rows][width]
  const float* lse;
  const float* delta;
  int64_t rows;
};

// The f32 tiles of one key block.
struct KeyBlock {
  const float* kt;  // [width][kB]
  const float* k;   // [kB][width]
  const float* vt;  // [width][kB]
  int64_t cols;
};

struct BwdContext {
  const AttentionBwdArgs& a;
  const AttentionBlockOps& ops;
  int64_t width;
};

QueryBlock loadQueryBlock(const BwdContext& c, int64_t b, int64_t h, int64_t i0, float* qTile,
                          float* dOTile, float* oTile, float* lseTile, float* deltaTile) {
  const AttentionBwdArgs& a = c.a;
  int64_t rows = std::min(kB, a.tq - i0);
  loadRows(sliceOf(a.dtype, a.q, a.qStrides, b, h, a.headDim), i0, rows, rows, c.width, qTile);
  loadRows(sliceOf(a.dtype, a.dO, a.dOStrides, b, h, a.headDim), i0, rows, rows, c.width, dOTile);
  loadRows(sliceOf(a.dtype, a.o, a.oStrides, b, h, a.headDim), i0, rows, rows, c.width, oTile);
  const float* lse = a.lse + (b * a.heads + h) * a.tq + i0;
  for (int64_t i = 0; i < rows; ++i) {
    float sum = 0.0f;
    for (int64_t d = 0; d < a.headDim; ++d) sum += dOTile[i * c.width + d] * oTile[i * c.width + d];
    deltaTile[i] = sum;
    lseTile[i] = lse[i];
  }
  return {qTile, dOTile, lseTile, deltaTile, rows};
}

KeyBlock loadKeyBlock(const BwdContext& c, int64_t b, int64_t h, int64_t j0, float* kt, float* k,
                      float* vt) {
  const AttentionBwdArgs& a = c.a;
  int64_t cols = std::min(kB, a.tk - j0);
  Slice ks = sliceOf(a.dtype, a.k, a.kStrides, b, h, a.headDim);
  loadTransposed(ks, j0, cols, c.width, kt);
  loadRows(ks, j0, cols, kB, c.width, k);
  loadTransposed(sliceOf(a.dtype, a.v, a.vStrides, b, h, a.headDim), j0, cols, c.width, vt);
  return {kt, k, vt, cols};
}

// P and scale * dS of one block pair: p, ds [rows][kB]; zero in the columns past the last key.
void pairScores(const BwdContext& c, const QueryBlock& qb, const KeyBlock& kb, float* p, float* ds) {
  c.ops.scores(qb.q, kb.kt, p, qb.rows, c.width, c.a.scale);
  for (int64_t i = 0; i < qb.rows; ++i) {
    float* row = p + i * kB;
    for (int64_t j = kb.cols; j < kB; ++j) row[j] = kNegInf;
    c.ops.expShifted(row, kB, qb.lse[i]);
  }
  c.ops.scores(qb.dO, kb.vt, ds, qb.rows, c.width, 1.0f);  // dP = dO V^T
  for (int64_t i = 0; i < qb.rows; ++i) {
    float* dsRow = ds + i * kB;
    const float* pRow = p + i * kB;
    for (int64_t j = 0; j < kB; ++j) dsRow[j] = c.a.scale * (pRow[j] * (dsRow[j] - qb.delta[i]));
  }
}

struct BwdTiles {
  float *q, *dO, *o, *lse, *delta, *kt, *k, *vt, *p, *ds, *dk, *dv;
};

BwdTiles bwdTiles(int64_t width) {
  return {Tiles::sized(tls.q, kB * width),     Tiles::sized(tls.dO, kB * width),
          Tiles::sized(tls.o, kB * width),     Tiles::sized(tls.lse, kB),
          Tiles::sized(tls.delta, kB),      Tiles::sized(tls.kt, width * kB),
          Tiles::sized(tls.k, kB * width),  Tiles::sized(tls.vt, width * kB),
          Tiles::sized(tls.s, kB * kB),     Tiles::sized(tls.ds, kB * kB),
          Tiles::sized(tls.dk, kB * width), Tiles::sized(tls.dv, kB * width)};
}

// dK and dV of key block j0 of (b, h), summed over every query block in ascending order; with
// dq non-null also adds each pair's scale * dS K into dq ([Tq rounded up][width], f32).
void keyBlockGrads(const BwdContext& c, int64_t b, int64_t h, int64_t j0, float* dq) {
  const AttentionBwdArgs& a = c.a;
  BwdTiles t = bwdTiles(c.width);
  KeyBlock kb = loadKeyBlock(c, b, h, j0, t.kt, t.k, t.vt);
  std::fill(t.dk, t.dk + kB * c.width, 0.0f);
  std::fill(t.dv, t.dv + kB * c.width, 0.0f);
  for (int64_t i0 = 0; i0 < a.tq; i0 += kB) {
    QueryBlock qb = loadQueryBlock(c, b, h, i0, t.q, t.dO, t.o, t.lse, t.delta);
    pairScores(c, qb, kb, t.p, t.ds);
    c.ops.accumulateCols(t.p, qb.dO, t.dv, qb.rows, c.width);  // dV += P^T dO
    c.ops.accumulateCols(t.ds, qb.q, t.dk, qb.rows, c.width);  // dK += scale dS^T Q
    if (dq) c.ops.accumulateRows(t.ds, kb.k, dq + i0 * c.width, qb.rows, c.width);
  }
  storeRows(sliceOf(a.dtype, a.dK, a.dKStrides, b, h, a.headDim), j0, kb.cols, c.width, t.dk,
            nullptr);
  storeRows(sliceOf(a.dtype, a.dV, a.dVStrides, b, h, a.headDim), j0, kb.cols, c.width, t.dv,
            nullptr);
}

// dQ of query block i0 of (b, h), summed over every key block in ascending order.
void queryBlockGrad(const BwdContext& c, int64_t b, int64_t h, int64_t i0) {
  const AttentionBwdArgs& a = c.a;
  BwdTiles t = bwdTiles(c.width);
  float* dq = Tiles::sized(tls.dq, kB * c.width);
  QueryBlock qb = loadQueryBlock(c, b, h, i0, t.q, t.dO, t.o, t.lse, t.delta);
  std::fill(dq, dq + qb.rows * c.width, 0.0f);
  for (int64_t j0 = 0; j0 < a.tk; j0 += kB) {
    KeyBlock kb = loadKeyBlock(c, b, h, j0, t.kt, t.k, t.vt);
    pairScores(c, qb, kb, t.p, t.ds);
    c.ops.accumulateRows(t.ds, kb.k, dq, qb.rows, c.width);
  }
  storeRows(sliceOf(a.dtype, a.dQ, a.dQStrides, b, h, a.headDim), i0, qb.rows, c.width, dq,
            nullptr);
}

// Everything of one (b, h) in one pass: dQ accumulates in an f32 scratch of the whole head.
void headGrads(const BwdContext& c, int64_t b, int64_t h) {
  const AttentionBwdArgs& a = c.a;
  int64_t tqPad = ceilDiv(a.tq, kB) * kB;
  float* dq = Tiles::sized(tls.dq, tqPad * c.width);
  std::fill(dq, dq + tqPad * c.width, 0.0f);
  for (int64_t j0 = 0; j0 < a.tk; j0 += kB) keyBlockGrads(c, b, h, j0, dq);
  storeRows(sliceOf(a.dtype, a.dQ, a.dQStrides, b, h, a.headDim), 0, a.tq, c.width, dq, nullptr);
}


}  // namespace

void attentionFwd(Stream stream, const AttentionFwdArgs& a) {
  requireStorage(a.dtype, "attention_fwd");
  int64_t tasks = a.batch * a.heads * ceilDiv(a.tq, kB);
  if (tasks == 0) return;
  const AttentionBlockOps& ops = selectOps();
  poolOf(stream).parallelFor(tasks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) forwardTask(a, ops, t);
  });
}

void attentionBwd(Stream stream, const AttentionBwdArgs& a) {
  requireStorage(a.dtype, "attention_bwd");
  int64_t pairs = a.batch * a.heads;
  if (pairs == 0 || a.tk == 0) return;
  BwdContext c{a, selectOps(), paddedWidth(a.headDim)};
  ThreadPool& pool = poolOf(stream);
  if (a.tq == 0) {
    // No queries: dK and dV are sums over nothing.
    pool.parallelFor(pairs, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t b = t / a.heads, h = t % a.heads;
        std::vector<float> zeros(paddedWidth(a.headDim), 0.0f);
        for (void* out : {a.dK, a.dV}) {
          Slice s = sliceOf(a.dtype, out, out == a.dK ? a.dKStrides : a.dVStrides, b, h, a.headDim);
          for (int64_t j = 0; j < a.tk; ++j) storeRows(s, j, 1, c.width, zeros.data(), nullptr);
        }
      }
    });
    return;
  }
  if (pairs >= 2 * static_cast<int64_t>(pool.threads())) {
    pool.parallelFor(pairs, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) headGrads(c, t / a.heads, t % a.heads);
    });
    return;
  }
  int64_t kBlocks = ceilDiv(a.tk, kB), qBlocks = ceilDiv(a.tq, kB);
  pool.parallelFor(pairs * kBlocks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t bh = t / kBlocks;
      keyBlockGrads(c, bh / a.heads, bh % a.heads, t % kBlocks * kB, nullptr);
    }
  });
  pool.parallelFor(pairs * qBlocks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t bh = t / qBlocks;
      queryBlockGrad(c, bh / a.heads, bh % a.heads, t % qBlocks * kB);
    }
  });
}

}  // namespace vit::cpu
