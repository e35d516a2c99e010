// Deterministic sums of many device buffers, shared by reduce_sum and global_norm (the CUDA
// counterpart of native/cpu/block_sum.h, with the same blocking).
//
// Every buffer is cut into blocks of kSumBlock = 16384 elements (a new block starts with each
// buffer, as on the CPU). Pass 1: one thread block per block of elements sums it in double (each
// thread a fixed strided subset, then a fixed warp-shuffle and shared-memory tree) into a partial
// in stream scratch. Pass 2: one thread block adds the partials in a fixed order (thread t takes
// partials t, t + 1024, ..., then the same tree). No atomics, so two runs give the same bits; the
// order differs from the CPU's sequential sum of block sums, so the double totals may differ in
// their last bits and the f32 results by at most an ulp (in practice they are equal).
// The buffer descriptors travel as kernel parameters, kSumBuffersPerLaunch per pass-1 launch, so
// nothing is uploaded from host memory (and a captured CUDA graph keeps them by value).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vit::cuda {

enum class SumFinish : uint8_t { Plain, Sqrt };

// out[0] (device f32) = (sqrt of, for Sqrt) the sum over buffers of sum of x (or x^2 with squares).
// dtypes and sizes are host arrays, buffers a host array of device pointers; all f32 or bf16
// (checked by the caller). Queued on `stream`; nothing is synchronized.
void orderedDeviceSum(cudaStream_t stream, int64_t count, const DType* dtypes, const int64_t* sizes,
                      const void* const* buffers, bool squares, SumFinish finish, float* out);

}  // namespace vit::cuda
