// y = alpha * x + beta * y on the GPU; f32 or bf16 storage, f32 arithmetic.
// Grid-stride loop: any n with a bounded grid, so huge buffers need no special case.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/bf16.h"
#include "core/status.h"
#include "cuda/launch_check.h"
#include "cuda/storage_access.cuh"
#include "kernels.h"

namespace vit::cuda {

namespace {


template <typename T>
__global__ void axpbyKernel(int64_t n, float alpha, const T* __restrict__ x, float beta,
                            T* __restrict__ y, const float* alphaPtr, const float* betaPtr) {
  // Dynamic alpha/beta (kernels.h "Dynamic scalar fields"): read from device memory when given,
  // so a captured CUDA graph picks up each run's values.
  if (alphaPtr) alpha = *alphaPtr;
  if (betaPtr) beta = *betaPtr;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    // beta == 0 overwrites y without reading it (the BLAS rule), as on the CPU.
    float ax = alpha * loadF32(x, i);
    storeF32(y, i, beta == 0.0f ? ax : ax + beta * loadF32(y, i));
  }
}

template <typename T>
void launch(cudaStream_t stream, const AxpbyArgs& a) {
  if (a.n == 0) return;
  constexpr int kThreads = 256;
  int64_t blocks = std::min<int64_t>((a.n + kThreads - 1) / kThreads, 65535);
  axpbyKernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      a.n, a.alpha, static_cast<const T*>(a.x), a.beta, static_cast<T*>(a.y), a.alphaPtr,
      a.betaPtr);
  checkLaunch("axpby");
}

}  // namespace

void axpby(Stream stream, const AxpbyArgs& a) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  switch (a.dtype) {
    case DType::F32: return launch<float>(s, a);
    case DType::BF16: return launch<uint16_t>(s, a);
    default:
      throw Error(ErrorCode::DtypeMismatch, "axpby supports f32 and bf16", "f32 or bf16",
                  dtypeName(a.dtype));
  }
}

}  // namespace vit::cuda
