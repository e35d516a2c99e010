// Device scratch memory private to one CUDA stream, for kernels that need temporary device memory
// their argument struct does not provide (the per-block partial sums of reduce_sum / global_norm,
// the flag of assert_finite).
//
// Why per stream: work on one stream runs in order, so every user of a stream's scratch finishes
// before the next one starts; no two kernels of different streams can ever share it.
// Buffers are never freed while the stream lives: growing allocates a larger one and keeps the old
// one until releaseStreamScratch, so work already queued (or frozen into a captured CUDA graph)
// that points at the old buffer stays valid, and growing needs no synchronization.
// Once warmed up (the first step of a plan), no call allocates. Growing during CUDA graph capture
// is refused with ERR_INTERNAL, since cudaMalloc is not allowed while a stream is capturing: run
// the plan once uncaptured first.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace vit::cuda {

// At least `bytes` (> 0) of device memory on the current device, 256-byte aligned, for work queued
// on `stream` only. Contents are undefined. Throws ERR_DEVICE_OOM, ERR_CUDA, ERR_DEVICE_LOST.
void* streamScratch(cudaStream_t stream, size_t bytes);

// Frees every scratch buffer of `stream` (on the current device); call after the stream's work is
// finished and before cudaStreamDestroy, so a later stream with the same handle starts afresh.
void releaseStreamScratch(cudaStream_t stream) noexcept;

// Throws the vit::Error of a failed CUDA runtime call made by a kernel file (`what` names it):
// ERR_DEVICE_LOST for the sticky faults, ERR_DEVICE_OOM for cudaErrorMemoryAllocation, ERR_CUDA
// otherwise (a non-sticky error is cleared first so it is not reported again later).
void checkCuda(cudaError_t status, const char* what);

}  // namespace vit::cuda
