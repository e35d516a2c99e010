// y = x converted between f32 and bf16 (lib/kernels/cast.ts CastArgs) on the GPU: f32 -> bf16 rounds
// to nearest even and keeps NaNs NaN by core/bf16.h, the CPU's own function, so both backends give
// the same bits; bf16 -> f32 is exact; equal types are a device-to-device copy.
// Memory-bound and elementwise: a grid-stride loop, two elements per thread when the pointers allow
// whole 4-byte bf16 pairs (the usual case: buffers are 256-byte aligned, views rarely odd).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/bf16.h"
#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

bool storage(DType t) { return t == DType::F32 || t == DType::BF16; }

__global__ void f32ToBf16Kernel(int64_t n, const float* __restrict__ x, uint16_t* __restrict__ y) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) y[i] = floatToBf16(x[i]);
}

__global__ void bf16ToF32Kernel(int64_t n, const uint16_t* __restrict__ x, float* __restrict__ y) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) y[i] = bf16ToFloat(x[i]);
}

// Pairs: x as float2 (8-byte aligned), y as one u32 holding two bf16 (low half = element 2i).
__global__ void f32ToBf16PairKernel(int64_t pairs, const float2* __restrict__ x,
                                    uint32_t* __restrict__ y) {
  for (int64_t i = globalThread(); i < pairs; i += gridThreads()) {
    float2 v = x[i];
    y[i] = static_cast<uint32_t>(floatToBf16(v.x)) | (static_cast<uint32_t>(floatToBf16(v.y)) << 16);
  }
}

__global__ void bf16ToF32PairKernel(int64_t pairs, const uint32_t* __restrict__ x,
                                    float2* __restrict__ y) {
  for (int64_t i = globalThread(); i < pairs; i += gridThreads()) {
    uint32_t v = x[i];
    y[i] = make_float2(bf16ToFloat(static_cast<uint16_t>(v & 0xffffu)),
                       bf16ToFloat(static_cast<uint16_t>(v >> 16)));
  }
}

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

void cast(Stream stream, const CastArgs& a) {
  if (!storage(a.from) || !storage(a.to)) {
    throw Error(ErrorCode::DtypeMismatch, "cast converts between f32 and bf16", "f32 or bf16",
                std::string(dtypeName(a.from)) + " -> " + dtypeName(a.to));
  }
  if (a.n <= 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.from == a.to) {
    checkCuda(cudaMemcpyAsync(a.y, a.x, static_cast<size_t>(a.n) * dtypeSize(a.from),
                              cudaMemcpyDeviceToDevice, s),
              "cast (copy)");
    return;
  }
  const float* f = static_cast<const float*>(a.from == DType::F32 ? a.x : a.y);
  const uint16_t* h = static_cast<const uint16_t*>(a.from == DType::F32 ? a.y : a.x);
  const bool pairs = a.n % 2 == 0 && aligned(f, 8) && aligned(h, 4);
  if (a.from == DType::F32) {
    if (pairs) {
      f32ToBf16PairKernel<<<blocksFor(a.n / 2), kThreads, 0, s>>>(
          a.n / 2, static_cast<const float2*>(a.x), static_cast<uint32_t*>(a.y));
    } else {
      f32ToBf16Kernel<<<blocksFor(a.n), kThreads, 0, s>>>(a.n, static_cast<const float*>(a.x),
                                                           static_cast<uint16_t*>(a.y));
    }
  } else {
    if (pairs) {
      bf16ToF32PairKernel<<<blocksFor(a.n / 2), kThreads, 0, s>>>(
          a.n / 2, static_cast<const uint32_t*>(a.x), static_cast<float2*>(a.y));
    } else {
      bf16ToF32Kernel<<<blocksFor(a.n), kThreads, 0, s>>>(a.n, static_cast<const uint16_t*>(a.x),
                                                           static_cast<float*>(a.y));
    }
  }
  checkLaunch("cast");
}

}  // namespace vit::cuda
