// What every cuBLASLt call needs, made once and kept: the loaded API, one cublasLtHandle_t per
// device, and one matmul workspace per stream.
//
// Why per stream and not per device: cuBLASLt kernels use the workspace as scratch while they run,
// so two streams of one device (two `cuda` DeviceHandles on the same GPU) must not share one.
// A backend has one stream for its whole life, so in practice this is one workspace per device
// handle, allocated by its first GEMM and freed when the backend is destroyed
// (CudaBackend::~CudaBackend calls releaseCublasLtStream after synchronizing the stream).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "cuda/cublaslt_api.h"
#include "cuda/vendor_libraries.h"

namespace vit::cuda {

// 32 MiB: what cuBLASLt's own samples and the large frameworks give Hopper kernels (split-K and
// stream-K reductions); the heuristic never picks an algorithm needing more than this.
constexpr size_t kCublasLtWorkspaceBytes = size_t{32} << 20;

struct CublasLtDevice {
  int ordinal = 0;
  cublasLtHandle_t handle = nullptr;
  // Guards this device's GEMM plan cache and the descriptors in it: a descriptor's pointer
  // attributes (the bias) are set just before each matmul that uses it.
  std::mutex mutex;
};

// The loaded cuBLASLt with its matmul API, or ERR_CUDA_UNAVAILABLE with received
// 'cublaslt-missing' when it was never loaded (cudaStatus() in lib/runtime loads it before a cuda
// device opens) or lacks part of the matmul API.
const CublasLt& requireCublasLt();

// The current device's context (cudaGetDevice), created with its handle on first use. Never
// destroyed: cuBLASLt must not be torn down from static destructors after the driver is gone.
CublasLtDevice& cublasLtDevice();

// The workspace of `stream` on the current device ([kCublasLtWorkspaceBytes], 256-byte aligned),
// allocated on first use.
void* cublasLtWorkspace(cudaStream_t stream);

// A growable f32 scratch buffer of `stream` on the current device, at least `bytes` long (the
// f32-input, bf16-output GEMM computes into it first: cuBLASLt has no f32 x f32 -> bf16 kernels).
// Growing frees the old buffer with cudaFree, which waits for the device, so work already queued
// on the stream that still reads it is finished first.
void* cublasLtScratch(cudaStream_t stream, size_t bytes);

// Frees the workspace (and scratch) of a stream that is about to be destroyed; its work must be
// finished.
// Never throws.
void releaseCublasLtStream(cudaStream_t stream) noexcept;

// "CUBLAS_STATUS_NOT_SUPPORTED" etc., or "cublasStatus_t <n>" for a value we do not know.
std::string cublasStatusName(cublasStatus_t status);

// Throws ERR_CUDA naming the call and the status (and the library's own sentence when it has one).
void checkCublas(cublasStatus_t status, const char* what);

}  // namespace vit::cuda
