// Mean pooling over tokens on the GPU (lib/kernels/mean_pool.ts MeanPoolArgs, MeanPoolBwdArgs):
//   forward  x [B, T, D] -> y [B, D], y = (sum over t) / T
//   backward dy [B, D] -> dx [B, T, D], dx = dy / T
// Forward: one thread per output (b, d), threads of a block on consecutive d (coalesced rows), and
// the CPU's exact order of additions: groups of four rows ((r0 + r1) + (r2 + r3)) added to the f32
// accumulator, then the remaining rows one by one; then one IEEE division by T. Additions alone
// cannot be contracted into FMAs, so the result is the CPU's bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

template <typename T>
__global__ void meanPoolFwdKernel(int64_t b, int64_t t, int64_t d, const T* __restrict__ x,
                                  T* __restrict__ y) {
  const float tokens = static_cast<float>(t);
  for (int64_t bi = blockIdx.y; bi < b; bi += gridDim.y) {
    for (int64_t j = globalThread(); j < d; j += gridThreads()) {
      const T* row = x + bi * t * d + j;
      float acc = 0.0f;
      int64_t k = 0;
      for (; k + 4 <= t; k += 4, row += 4 * d) {
        acc += (loadF32(row, 0) + loadF32(row, d)) + (loadF32(row, 2 * d) + loadF32(row, 3 * d));
      }
      for (; k < t; ++k, row += d) acc += loadF32(row, 0);
      storeF32(y, bi * d + j, __fdiv_rn(acc, tokens));
    }
  }
}

// dx[b, t, :] = dy[b, :] / T: x threads on d, blockIdx.y on t, blockIdx.z on b.
template <typename T>
__global__ void meanPoolBwdKernel(int64_t b, int64_t t, int64_t d, const T* __restrict__ dy,
                                  T* __restrict__ dx) {
  const float tokens = static_cast<float>(t);
  for (int64_t bi = blockIdx.z; bi < b; bi += gridDim.z) {
    for (int64_t ti = blockIdx.y; ti < t; ti += gridDim.y) {
      T* dst = dx + (bi * t + ti) * d;
      const T* src = dy + bi * d;
      for (int64_t j = globalThread(); j < d; j += gridThreads()) {
        storeF32(dst, j, __fdiv_rn(loadF32(src, j), tokens));
      }
    }
  }
}

void requireStorage(DType t, const char* op) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(op) + " supports f32 and bf16",
                "f32 or bf16", dtypeName(t));
  }
}

unsigned clampGrid(int64_t v, int64_t limit) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(v, limit)));
}

template <typename T>
void forward(cudaStream_t s, const MeanPoolArgs& a) {
  const unsigned gx = clampGrid((a.d + kThreads - 1) / kThreads, kMaxBlocks);
  const unsigned gy = clampGrid(a.b, std::min<int64_t>(kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / gx)));
  meanPoolFwdKernel<T><<<dim3(gx, gy), kThreads, 0, s>>>(a.b, a.t, a.d, static_cast<const T*>(a.x),
                                                          static_cast<T*>(a.y));
  checkLaunch("mean_pool");
}

template <typename T>
void backward(cudaStream_t s, const MeanPoolBwdArgs& a) {
  const unsigned gx = clampGrid((a.d + kThreads - 1) / kThreads, kMaxBlocks);
  const unsigned gy = clampGrid(a.t, std::min<int64_t>(kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / gx)));
  const unsigned gz = clampGrid(a.b, std::min<int64_t>(kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / (int64_t{gx} * gy))));
  meanPoolBwdKernel<T><<<dim3(gx, gy, gz), kThreads, 0, s>>>(
      a.b, a.t, a.d, static_cast<const T*>(a.dy), static_cast<T*>(a.dx));
  checkLaunch("mean_pool_bwd");
}

}  // namespace

void meanPool(Stream stream, const MeanPoolArgs& a) {
  requireStorage(a.dtype, "mean_pool");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool needs at least one token", "T >= 1", "0");
  if (a.b <= 0 || a.d <= 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return forward<float>(s, a);
  forward<uint16_t>(s, a);
}

void meanPoolBwd(Stream stream, const MeanPoolBwdArgs& a) {
  requireStorage(a.dtype, "mean_pool_bwd");
  if (a.t == 0 || a.b <= 0 || a.d <= 0) return;  // dx is empty
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return backward<float>(s, a);
  backward<uint16_t>(s, a);
}

}  // namespace vit::cuda
