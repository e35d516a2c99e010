// CPU GEMM driver: blocking, packing and threading around the ISA micro-kernels.
//
// C is cut into blocks of mc x nc; each block is one task, computed start to finish by one thread:
//   for each depth block p0 (kc deep, a constant of the micro-kernel):
//     pack op(A)[block rows, p0:p0+kc] into mr-row panels       (mc x kc, sized for L2)
//     for each nr-column panel of the block:
//       pack op(B)[p0:p0+kc, panel columns]                     (kc x nr, stays in L1)
//       micro-kernel against every A panel, accumulating into C's tile: C itself for a plain
//       f32 C = A*B, else an f32 workspace [mc, nc]
//   epilogue (workspace only): C = alpha * workspace + beta * C (+ bias), rounded once to C's
//   dtype.
// An element's value depends only on kc and the micro-kernel, never on which thread ran its
// block or how blocks were sized, so results are identical for every thread count. The
// workspace gives bf16 outputs a single rounding; panels are zero-padded so tiles are always
// full, and edge tiles of a direct C go through a small tile buffer.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/gelu_epilogue.h"
#include "cpu/gemm_microkernel.h"
#include "cpu/gemm_pack.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

// Upper bounds of a C block. Per kc step a task packs its mc x kc block of op(A) once (336 x 256
// f32 = 336 KiB, stays in L2) and then one kc x nr panel of op(B) at a time (32 KiB, L1), run
// against every A panel. A is re-packed once per nc columns and B once per mc rows, so nc is large
// and mc is what fits L2. Measured on Zen 4 (1 MiB L2, 2 threads, ViT shapes): mc 336-672 beat
// 168-224 by 5-8%; nc 1024-4096 were within noise.
constexpr int64_t kNcMax = 2048;
constexpr int64_t kMcMax = 336;
// Below this many flops the wake-up of other threads costs more than it saves.
constexpr double kParallelFlops = 2.0 * 64 * 64 * 64;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

const GemmMicroKernel& selectKernel(DType abType) {
  Isa isa = activeIsa();
  if (abType == DType::BF16 && isa >= Isa::Avx512Bf16) return kGemmAvx512Bf16;
  if (isa >= Isa::Avx512) return kGemmAvx512F32;
  if (isa >= Isa::Avx2) return kGemmAvx2F32;
  return kGemmScalarF32;
}

// A growable 64-byte aligned scratch buffer; one set per thread, kept between calls.
class Scratch {
 public:
  ~Scratch() { std::free(ptr_); }
  void* get(size_t bytes) {
    if (bytes > capacity_) {
      std::free(ptr_);
      capacity_ = (bytes + 63) / 64 * 64;
      ptr_ = std::aligned_alloc(64, capacity_);
      if (!ptr_) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  size_t capacity_ = 0;
};

struct ThreadScratch {
  Scratch aPanel;     // [steps][mr] (f32 or bf16 pairs)
  Scratch bBlock;     // [nc / nr][steps][nr]
  Scratch workspace;  // [mc, nc] f32
};

thread_local ThreadScratch scratch;

// How C is cut into tasks. Block sizes may follow the thread count (they do not change results):
// more, evenly sized blocks when the default cut would leave threads idle at the end.
struct Blocking {
  int64_t mc, nc, mBlocks, nBlocks;
  bool avx512Pack = false;  // panels through packPanel*Avx512 where they apply
};

Blocking chooseBlocking(const GemmArgs& g, const GemmMicroKernel& kern, int threads) {
  auto cut = [](int64_t extent, int64_t blocks, int64_t unit, int64_t* size) {
    *size = std::max(unit, ceilDiv(ceilDiv(extent, blocks), unit) * unit);
    return ceilDiv(extent, *size);
  };
  Blocking bl{};
  int64_t mBase = ceilDiv(g.m, kMcMax), nBase = ceilDiv(g.n, kNcMax);
  bl.mBlocks = cut(g.m, mBase, kern.mr, &bl.mc);
  bl.nBlocks = cut(g.n, nBase, kern.nr, &bl.nc);
  auto tasks = [&](int64_t mb, int64_t nb) { return g.batch * mb * nb; };
  if (threads <= 1 || tasks(bl.mBlocks, bl.nBlocks) % threads == 0) return bl;
  // Look for a split whose task count is a multiple of the thread count, cutting rows first.
  for (int64_t extra = 1; extra <= 2 * threads; ++extra) {
    int64_t mc, nc;
    int64_t mb = cut(g.m, mBase + extra, kern.mr, &mc);
    if (tasks(mb, bl.nBlocks) % threads == 0) return {mc, bl.nc, mb, bl.nBlocks};
    int64_t nb = cut(g.n, nBase + extra, kern.nr, &nc);
    if (tasks(bl.mBlocks, nb) % threads == 0) return {bl.mc, nc, bl.mBlocks, nb};
  }
  return bl;
}

const char* elementAt(const void* base, int64_t index, size_t elemSize) {
  return static_cast<const char*>(base) + index * static_cast<int64_t>(elemSize);
}

// Packs one panel of op(X) starting at (line0, p0) of a batch's matrix.
void packPanel(const GemmMicroKernel& kern, bool avx512Pack, DType type, const void* base,
               int64_t lineStride, int64_t depthStride, int64_t line0, int64_t p0, int64_t lines,
               int64_t depth, int width, void* out) {
  int64_t offset = line0 * lineStride + p0 * depthStride;
  if (type == DType::F32) {
    const float* x = static_cast<const float*>(base) + offset;
    if (avx512Pack && packPanelF32Avx512({x, lineStride, depthStride}, lines, depth, width,
                                         static_cast<float*>(out))) {
      return;
    }
    packPanelF32({x, lineStride, depthStride}, lines, depth, width, static_cast<float*>(out));
  } else if (kern.bf16Pairs) {
    const uint16_t* x = static_cast<const uint16_t*>(base) + offset;
    if (avx512Pack && packPanelBf16PairsAvx512({x, lineStride, depthStride}, lines, depth, width,
                                               static_cast<uint16_t*>(out))) {
      return;
    }
    packPanelBf16Pairs({x, lineStride, depthStride}, lines, depth, width,
                       static_cast<uint16_t*>(out));
  } else {
    const uint16_t* x = static_cast<const uint16_t*>(base) + offset;
    packPanelBf16AsF32({x, lineStride, depthStride}, lines, depth, width, static_cast<float*>(out));
  }
}

// C[rows, cols] = alpha * ws + beta * C (+ bias) (then GELU on the block's share of
// [geluBegin, geluEnd)). One branch-free loop per case, so the compiler vectorizes each: on small-k
// shapes this pass is a visible share of the time.
void storeBlock(const GemmArgs& g, float* ws, int64_t ldws, bool haveProduct, int64_t batch,
                int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
  const float alpha = haveProduct ? g.alpha : 0.0f;
  const float beta = g.beta;
  const bool geluColumns = g.epilogue == GemmEpilogue::BiasGeluColumns;
  const bool useBias = g.epilogue == GemmEpilogue::Bias || (geluColumns && g.bias != nullptr);
  // The block's columns that go through GELU: [geluLo, geluHi) relative to j0 (maybe empty).
  const int64_t geluLo = geluColumns ? std::clamp(g.geluBegin - j0, int64_t{0}, cols) : 0;
  const int64_t geluHi = geluColumns ? std::clamp(g.geluEnd - j0, int64_t{0}, cols) : 0;
  const bool f32 = g.cType == DType::F32;
  float* biasRow = nullptr;  // [cols] f32, widened once per block (an f32 bias is copied as is)
  if (useBias) {
    biasRow = ws + rows * ldws;  // the workspace has room past the block (see runTask)
    if (g.biasType == DType::F32) {
      std::memcpy(biasRow, static_cast<const float*>(g.bias) + j0, sizeof(float) * cols);
    } else {
      const uint16_t* bias = static_cast<const uint16_t*>(g.bias) + j0;
      for (int64_t j = 0; j < cols; ++j) biasRow[j] = bf16ToFloat(bias[j]);
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    int64_t offset = batch * g.strideC + (i0 + i) * g.ldc + j0;
    float* acc = ws + i * ldws;  // becomes the finished f32 row
    if (f32) {
      float* c = static_cast<float*>(g.c) + offset;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < cols; ++j) acc[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < cols; ++j) acc[j] = alpha * acc[j] + beta * c[j];
      }
      if (useBias) {
        for (int64_t j = 0; j < cols; ++j) acc[j] += biasRow[j];
      }
      if (geluHi > geluLo) geluInPlace(g.geluForm, acc + geluLo, geluHi - geluLo);
      std::memcpy(c, acc, sizeof(float) * cols);
    } else {
      uint16_t* c = static_cast<uint16_t*>(g.c) + offset;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < cols; ++j) acc[j] = alpha * acc[j];
      } else {
        for (int64_t j = 0; j < cols; ++j) acc[j] = alpha * acc[j] + beta * bf16ToFloat(c[j]);
      }
      if (useBias) {
        for (int64_t j = 0; j < cols; ++j) acc[j] += biasRow[j];
      }
      if (geluHi > geluLo) geluInPlace(g.geluForm, acc + geluLo, geluHi - geluLo);
      for (int64_t j = 0; j < cols; ++j) c[j] = floatToBf16(acc[j]);
    }
  }
}

void runTask(const GemmArgs& g, const GemmMicroKernel& kern, const Blocking& bl, int64_t task) {
  int64_t perBatch = bl.mBlocks * bl.nBlocks;
  int64_t batch = task / perBatch;
  int64_t ib = task % perBatch / bl.nBlocks, jb = task % bl.nBlocks;
  // Blocks split the mr (nr) panels as evenly as possible, at most one panel apart, rather than
  // full blocks and a short last one: on 2 threads 3152 rows in 10 blocks of 322 gave one thread
  // 5% more rows. mc and nc are only the upper bounds.
  auto edge = [](int64_t block, int64_t blocks, int64_t extent, int64_t unit) {
    return std::min(extent, block * ceilDiv(extent, unit) / blocks * unit);
  };
  int64_t i0 = edge(ib, bl.mBlocks, g.m, kern.mr), j0 = edge(jb, bl.nBlocks, g.n, kern.nr);
  int64_t rows = edge(ib + 1, bl.mBlocks, g.m, kern.mr) - i0;
  int64_t cols = edge(jb + 1, bl.nBlocks, g.n, kern.nr) - j0;
  int64_t mPanels = ceilDiv(rows, kern.mr), nPanels = ceilDiv(cols, kern.nr);
  int64_t ldws = nPanels * kern.nr;

  size_t elem = dtypeSize(g.abType);
  const void* a = elementAt(g.a, batch * g.strideA, elem);
  const void* b = elementAt(g.b, batch * g.strideB, elem);
  // Lines of op(A) are its rows; lines of op(B) are its columns.
  int64_t aLine = g.transA ? 1 : g.lda, aDepth = g.transA ? g.lda : 1;
  int64_t bLine = g.transB ? g.ldb : 1, bDepth = g.transB ? 1 : g.ldb;

  // Plain f32 C = A*B (alpha 1, beta 0, no epilogue): the micro-kernel accumulates straight into
  // C, skipping the workspace and its copy. The sums are the same kernel calls in the same order,
  // so the bits match the workspace path. Edge tiles go through a small full-size tile buffer.
  const bool direct = g.cType == DType::F32 && g.alpha == 1.0f && g.beta == 0.0f &&
                      g.epilogue == GemmEpilogue::None && g.k > 0;
  int64_t maxSteps = kern.bf16Pairs ? kern.kc / 2 : kern.kc;
  // Every panel holds steps x width lanes of 4 bytes (an f32, or a bf16 pair). The A block is
  // packed once per kc step and stays in L2 ([mPanels][steps][mr]); one B panel ([steps][nr], in
  // L1) is packed at a time and run against every A panel.
  auto* aBlock = static_cast<char*>(scratch.aPanel.get(4 * maxSteps * kern.mr * mPanels));
  auto* bPanel = static_cast<char*>(scratch.bBlock.get(4 * maxSteps * kern.nr));
  float* ws = nullptr;
  float* cBase = nullptr;
  int64_t ldcT = ldws;
  float tile[14 * 32] __attribute__((aligned(64))) = {};  // >= mr x nr of every kernel
  if (direct) {
    cBase = static_cast<float*>(g.c) + batch * g.strideC + i0 * g.ldc + j0;
    ldcT = g.ldc;
  } else {
    // [mPanels * mr + 1, ldws]: the extra row holds the widened bias in the epilogue.
    ws = static_cast<float*>(scratch.workspace.get(4 * (mPanels * kern.mr + 1) * ldws));
    if (g.k == 0) std::memset(ws, 0, 4 * rows * ldws);  // no product: alpha * 0
    cBase = ws;
  }

  for (int64_t p0 = 0; p0 < g.k; p0 += kern.kc) {
    int64_t depth = std::min<int64_t>(kern.kc, g.k - p0);
    int64_t steps = kern.bf16Pairs ? (depth + 1) / 2 : depth;
    int64_t aPanelBytes = 4 * steps * kern.mr;
    for (int64_t ip = 0; ip < mPanels; ++ip) {
      int64_t lines = std::min<int64_t>(kern.mr, rows - ip * kern.mr);
      packPanel(kern, bl.avx512Pack, g.abType, a, aLine, aDepth, i0 + ip * kern.mr, p0, lines,
                depth, kern.mr, aBlock + ip * aPanelBytes);
    }
    for (int64_t jp = 0; jp < nPanels; ++jp) {
      int64_t nCols = std::min<int64_t>(kern.nr, cols - jp * kern.nr);
      packPanel(kern, bl.avx512Pack, g.abType, b, bLine, bDepth, j0 + jp * kern.nr, p0, nCols,
                depth, kern.nr, bPanel);
      for (int64_t ip = 0; ip < mPanels; ++ip) {
        int64_t nRows = std::min<int64_t>(kern.mr, rows - ip * kern.mr);
        float* c = cBase + ip * kern.mr * ldcT + jp * kern.nr;
        const void* ap = aBlock + ip * aPanelBytes;
        if (!direct || (nRows == kern.mr && nCols == kern.nr)) {
          kern.run(steps, ap, bPanel, c, ldcT, p0 > 0);
          continue;
        }
        // Edge tile of C: through the tile buffer (only its valid part is read or written).
        for (int64_t i = 0; i < nRows && p0 > 0; ++i)
          std::memcpy(tile + i * kern.nr, c + i * ldcT, 4 * nCols);
        kern.run(steps, ap, bPanel, tile, kern.nr, p0 > 0);
        for (int64_t i = 0; i < nRows; ++i) {
          std::memcpy(c + i * ldcT, tile + i * kern.nr, 4 * nCols);
        }
      }
    }
  }
  if (!direct) storeBlock(g, ws, ldws, g.k > 0, batch, i0, j0, rows, cols);
}

}  // namespace

void gemm(Stream stream, const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  const GemmMicroKernel& kern = selectKernel(g.abType);
  ThreadPool& pool = stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
  double flops = 2.0 * g.m * g.n * g.k * g.batch;
  int threads = flops < kParallelFlops ? 1 : pool.threads();
  Blocking bl = chooseBlocking(g, kern, threads);
  bl.avx512Pack = activeIsa() >= Isa::Avx512;
  int64_t tasks = g.batch * bl.mBlocks * bl.nBlocks;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) runTask(g, kern, bl, t);
  };
  if (threads == 1) {
    body(0, tasks);
  } else {
    pool.parallelFor(tasks, body);
  }
}

}  // namespace vit::cpu
