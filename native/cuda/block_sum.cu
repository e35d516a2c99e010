// See block_sum.h for the scheme. Shapes: partials [total blocks] f64 in stream scratch, out [1] f32.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda/block_sum.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "cuda/stream_scratch.h"

namespace vit::cuda {

namespace {

constexpr int64_t kSumBlock = int64_t{1} << 14;  // elements per partial, as cpu/block_sum.h
constexpr int kSumBuffersPerLaunch = 48;          // ~1.3 KB of parameters, well below 4 KB
constexpr int kPass1Threads = 256;
constexpr int kPass2Threads = 1024;

// The buffers of one pass-1 launch. Block b of the launch belongs to the buffer i with
// firstBlock[i] <= b < firstBlock[i + 1]; its partial goes to partials[partialBase + b].
struct SumBatch {
  const void* data[kSumBuffersPerLaunch];
  int64_t size[kSumBuffersPerLaunch];
  int64_t firstBlock[kSumBuffersPerLaunch + 1];
  uint8_t bf16[kSumBuffersPerLaunch];
  int count;
  int64_t partialBase;
};

__device__ __forceinline__ double elementAt(const void* data, bool bf16, int64_t i) {
  return bf16 ? static_cast<double>(bf16ToFloat(static_cast<const uint16_t*>(data)[i]))
              : static_cast<double>(static_cast<const float*>(data)[i]);
}

// Sum of one value per thread over the block, in a fixed order: a shuffle tree inside each warp,
// then warp 0 adds the warp sums by the same tree. Valid in thread 0. `shared` holds 32 doubles.
__device__ double blockTotal(double v, double* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / 32;
    v = lane < warps ? shared[lane] : 0.0;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  return v;
}

template <bool kSquares>
__global__ void __launch_bounds__(kPass1Threads) partialSums(const SumBatch batch,
                                                             double* __restrict__ partials) {
  __shared__ double shared[32];
  const int64_t blocks = batch.firstBlock[batch.count];
  for (int64_t b = blockIdx.x; b < blocks; b += gridDim.x) {
    // The buffer holding block b: the last i with firstBlock[i] <= b (binary search, uniform per
    // thread block, in parameter space).
    int lo = 0, hi = batch.count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (batch.firstBlock[mid] <= b) lo = mid; else hi = mid - 1;
    }
    const int64_t begin = (b - batch.firstBlock[lo]) * kSumBlock;
    const int64_t end = min(batch.size[lo], begin + kSumBlock);
    const void* data = batch.data[lo];
    const bool bf16 = batch.bf16[lo] != 0;
    // Thread t adds elements begin + t, begin + t + 256, ... (coalesced), in double. The squares
    // of f32 values are exact in double, so an FMA contraction cannot change them.
    double acc = 0.0;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      const double v = elementAt(data, bf16, i);
      acc += kSquares ? v * v : v;
    }
    const double total = blockTotal(acc, shared);
    if (threadIdx.x == 0) partials[batch.partialBase + b] = total;
    __syncthreads();  // `shared` is reused by the next block of the loop
  }
}

__global__ void __launch_bounds__(kPass2Threads) finishSum(int64_t count,
                                                           const double* __restrict__ partials,
                                                           bool takeSqrt, float* __restrict__ out) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  const double total = blockTotal(acc, shared);
  // The CPU's float(sqrt(double)) / float(double): IEEE sqrt and round-to-nearest conversion.
  if (threadIdx.x == 0) *out = static_cast<float>(takeSqrt ? sqrt(total) : total);
}

}  // namespace

void orderedDeviceSum(cudaStream_t stream, int64_t count, const DType* dtypes, const int64_t* sizes,
                      const void* const* buffers, bool squares, SumFinish finish, float* out) {
  int64_t totalBlocks = 0;
  for (int64_t i = 0; i < count; ++i) totalBlocks += (sizes[i] + kSumBlock - 1) / kSumBlock;
  if (totalBlocks == 0) {
    // No elements: the sum is 0 and so is its square root (+0.0f is all zero bits).
    checkCuda(cudaMemsetAsync(out, 0, sizeof(float), stream), "sum of nothing");
    return;
  }
  auto* partials = static_cast<double*>(streamScratch(stream, sizeof(double) * totalBlocks));
  SumBatch batch{};
  int64_t base = 0;  // partials written by earlier launches
  auto flush = [&] {
    if (batch.count == 0) return;
    const int64_t blocks = batch.firstBlock[batch.count];
    batch.partialBase = base;
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(blocks, int64_t{1} << 20));
    if (squares) {
      partialSums<true><<<grid, kPass1Threads, 0, stream>>>(batch, partials);
    } else {
      partialSums<false><<<grid, kPass1Threads, 0, stream>>>(batch, partials);
    }
    checkLaunch(squares ? "global_norm / sum of squares (partials)" : "reduce_sum (partials)");
    base += blocks;
    batch = SumBatch{};
  };
  for (int64_t i = 0; i < count; ++i) {
    if (sizes[i] <= 0) continue;  // no blocks: contributes nothing, as on the CPU
    const int k = batch.count;
    batch.data[k] = buffers[i];
    batch.size[k] = sizes[i];
    batch.bf16[k] = dtypes[i] == DType::BF16 ? 1 : 0;
    batch.firstBlock[k + 1] = batch.firstBlock[k] + (sizes[i] + kSumBlock - 1) / kSumBlock;
    batch.count = k + 1;
    if (batch.count == kSumBuffersPerLaunch) flush();
  }
  flush();
  finishSum<<<1, kPass2Threads, 0, stream>>>(totalBlocks, partials, finish == SumFinish::Sqrt, out);
  checkLaunch("reduce_sum / global_norm (total)");
}

}  // namespace vit::cuda
