// Strided runs of contiguous elements (lib/kernels/strided_copy.ts StridedCopyArgs) on the GPU: the data
// movement of slices, concatenations and broadcasts. A pure copy of storage bits, so dtype only sets
// the element size; the copy moves the widest word (16, 8, 4 or 2 bytes) that divides the run
// length, both strides and both base addresses, so f32/bf16/i32 runs of aligned views move 16 bytes
// per thread access.
// Long runs (>= one block of words): blockIdx.y walks runs, x threads walk the words of a run.
// Short runs: one flat loop over batch * words with a division per word (32-bit when it fits).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

struct alignas(2) Word2 { uint16_t v; };
struct alignas(4) Word4 { uint32_t v; };
struct alignas(8) Word8 { uint2 v; };
struct alignas(16) Word16 { uint4 v; };

// Strides are in words here. Runs of y never overlap x (kernels.h), hence __restrict__.
template <typename W>
__global__ void copyLongRuns(int64_t batch, int64_t words, const W* __restrict__ x, int64_t xStride,
                             W* __restrict__ y, int64_t yStride) {
  for (int64_t r = blockIdx.y; r < batch; r += gridDim.y) {
    const W* src = x + r * xStride;
    W* dst = y + r * yStride;
    for (int64_t j = globalThread(); j < words; j += gridThreads()) dst[j] = src[j];
  }
}

template <typename W, typename Index>
__global__ void copyShortRuns(Index total, Index words, const W* __restrict__ x, int64_t xStride,
                              W* __restrict__ y, int64_t yStride) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const Index r = i / words, j = i - r * words;
    y[static_cast<int64_t>(r) * yStride + j] = x[static_cast<int64_t>(r) * xStride + j];
  }
}

template <typename W>
void launch(cudaStream_t s, const StridedCopyArgs& a, int64_t runBytes) {
  constexpr int64_t kWord = sizeof(W);
  const int64_t words = runBytes / kWord;
  const int64_t size = static_cast<int64_t>(dtypeSize(a.dtype));
  const int64_t xStride = a.xStride * size / kWord, yStride = a.yStride * size / kWord;
  const W* x = static_cast<const W*>(a.x);
  W* y = static_cast<W*>(a.y);
  if (words >= kThreads) {
    int64_t gx = std::min<int64_t>((words + kThreads - 1) / kThreads, kMaxBlocks);
    int64_t gy = std::min<int64_t>({a.batch, kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / gx)});
    copyLongRuns<W><<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), kThreads, 0, s>>>(
        a.batch, words, x, xStride, y, yStride);
  } else {
    const int64_t total = a.batch * words;
    if (total <= INT32_MAX) {
      copyShortRuns<W, uint32_t><<<blocksFor(total), kThreads, 0, s>>>(
          static_cast<uint32_t>(total), static_cast<uint32_t>(words), x, xStride, y, yStride);
    } else {
      copyShortRuns<W, int64_t><<<blocksFor(total), kThreads, 0, s>>>(total, words, x, xStride, y,
                                                                       yStride);
    }
  }
  checkLaunch("strided_copy");
}

}  // namespace

void stridedCopy(Stream stream, const StridedCopyArgs& a) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16 && a.dtype != DType::I32) {
    throw Error(ErrorCode::DtypeMismatch, "strided_copy moves f32, bf16 or i32", "f32, bf16 or i32",
                dtypeName(a.dtype));
  }
  const int64_t size = static_cast<int64_t>(dtypeSize(a.dtype));
  const int64_t runBytes = a.cols * size;
  if (a.batch <= 0 || runBytes <= 0) return;
  // Every byte quantity the copy touches; the word must divide all of them. Negative strides work
  // too: two's complement keeps the low bits.
  const uint64_t bits = static_cast<uint64_t>(runBytes) | static_cast<uint64_t>(a.xStride * size) |
                        static_cast<uint64_t>(a.yStride * size) |
                        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(a.x)) |
                        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(a.y));
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (bits % 16 == 0) return launch<Word16>(s, a, runBytes);
  if (bits % 8 == 0) return launch<Word8>(s, a, runBytes);
  if (bits % 4 == 0) return launch<Word4>(s, a, runBytes);
  launch<Word2>(s, a, runBytes);
}

}  // namespace vit::cuda
