// The learned position embedding on the GPU (lib/kernels/pos_embed_add.ts PosEmbedAddArgs, PosEmbedBwdArgs):
//   forward  x[b, t, d] += pos[t, d]   (f32 add, rounded once to x's type)
//   backward dpos[t, d] = sum over b of dx[b, t, d]
// Forward: blockIdx.y walks b, x threads walk the T*D elements of one batch row (pos is reused
// from L2 by every b). Backward: one thread per (t, d) and block of kPosEmbedBwdRowBlock rows of b
// (a 32768-row bias gradient is 128 blocks: enough threads to fill the GPU), each summed in the
// CPU's exact order (groups of four, ((r0 + r1) + (r2 + r3)), then one by one) in f32, then the
// block sums added in order by a second kernel: the CPU's bits. Rows (b, t) of dx may be
// dxRowStride apart (a column window of a wider matrix: sum_to's bias gradient).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/pos_embed_args.h"
#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

template <typename X, typename P>
__global__ void addKernel(int64_t b, int64_t td, X* __restrict__ x, const P* __restrict__ pos) {
  for (int64_t bi = blockIdx.y; bi < b; bi += gridDim.y) {
    X* row = x + bi * td;
    for (int64_t j = globalThread(); j < td; j += gridThreads()) {
      storeF32(row, j, loadF32(row, j) + loadF32(pos, j));
    }
  }
}

// Element j = (t, c) of dpos sums dx[(bi * T + t) * rowStride + c] over bi; batch rows are
// bstride = T * rowStride apart (td when dense). blockIdx.y walks the blocks of
// kPosEmbedBwdRowBlock rows (kernels.h), each summed in the CPU's order; with a single block the sum
// is the result, otherwise it goes to part[block][td] (f32) for combineKernel.
template <typename X, typename P>
__global__ void blockSumKernel(int64_t b, int64_t blocks, int64_t td, int64_t d, int64_t rowStride,
                               const X* __restrict__ dx, P* __restrict__ dpos,
                               float* __restrict__ part) {
  const int64_t bstride = rowStride == d ? td : (td / d) * rowStride;
  for (int64_t k = blockIdx.y; k < blocks; k += gridDim.y) {
    const int64_t b0 = k * kPosEmbedBwdRowBlock;
    const int64_t b1 = b0 + kPosEmbedBwdRowBlock < b ? b0 + kPosEmbedBwdRowBlock : b;
    for (int64_t j = globalThread(); j < td; j += gridThreads()) {
      const X* col = dx + b0 * bstride + (rowStride == d ? j : (j / d) * rowStride + j % d);
      float acc = 0.0f;
      int64_t bi = b0;
      for (; bi + 4 <= b1; bi += 4, col += 4 * bstride) {
        acc += (loadF32(col, 0) + loadF32(col, bstride)) +
               (loadF32(col, 2 * bstride) + loadF32(col, 3 * bstride));
      }
      for (; bi < b1; ++bi, col += bstride) acc += loadF32(col, 0);
      if (part != nullptr) {
        part[k * td + j] = acc;
      } else {
        storeF32(dpos, j, acc);
      }
    }
  }
}

// dpos[j] = the block sums of element j added in block order, starting from block 0's.
template <typename P>
__global__ void combineKernel(int64_t blocks, int64_t td, const float* __restrict__ part,
                              P* __restrict__ dpos) {
  for (int64_t j = globalThread(); j < td; j += gridThreads()) {
    float acc = part[j];
    for (int64_t k = 1; k < blocks; ++k) acc += part[k * td + j];
    storeF32(dpos, j, acc);
  }
}

}  // namespace

void posEmbedAdd(Stream stream, const PosEmbedAddArgs& a) {
  const int64_t td = a.t * a.d;
  if (a.b <= 0 || td <= 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const int64_t gx = std::min<int64_t>((td + kThreads - 1) / kThreads, kMaxBlocks);
  const int64_t gy = std::max<int64_t>(1, std::min<int64_t>({a.b, kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / gx)}));
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  pos_embed_args::dispatch(a.dtype, a.posDtype, [&](auto xTag, auto pTag) {
    using X = decltype(xTag);
    using P = decltype(pTag);
    addKernel<X, P><<<grid, kThreads, 0, s>>>(a.b, td, static_cast<X*>(a.x), static_cast<const P*>(a.pos));
  });
  checkLaunch("pos_embed_add");
}

void posEmbedBwd(Stream stream, const PosEmbedBwdArgs& a) {
  const int64_t rowStride = a.dxRowStride == 0 ? a.d : a.dxRowStride;
  const int64_t td = a.t * a.d;
  if (td <= 0) return;
  // b == 0 is legal: dpos = 0 (the CPU's empty sum), written by one empty block.
  const int64_t b = std::max<int64_t>(a.b, 0);
  const int64_t blocks = std::max<int64_t>(1, (b + kPosEmbedBwdRowBlock - 1) / kPosEmbedBwdRowBlock);
  auto s = static_cast<cudaStream_t>(stream.handle);
  // The block sums, when there is more than one block: [blocks, td] f32 of the stream's scratch.
  const size_t partBytes = static_cast<size_t>(blocks * td) * sizeof(float);
  float* part = blocks > 1 ? static_cast<float*>(streamScratch(s, partBytes)) : nullptr;
  const dim3 grid(blocksFor(td), static_cast<unsigned>(std::min<int64_t>(blocks, kMaxGridYZ)));
  pos_embed_args::dispatch(a.dtype, a.posDtype, [&](auto xTag, auto pTag) {
    using X = decltype(xTag);
    using P = decltype(pTag);
    blockSumKernel<X, P><<<grid, kThreads, 0, s>>>(b, blocks, td, a.d, rowStride,
                                                   static_cast<const X*>(a.dx),
                                                   static_cast<P*>(a.dpos), part);
    if (part != nullptr) {
      checkLaunch("pos_embed_bwd");
      combineKernel<P><<<blocksFor(td), kThreads, 0, s>>>(blocks, td, part, static_cast<P*>(a.dpos));
    }
  });
  checkLaunch("pos_embed_bwd");
}

}  // namespace vit::cuda
