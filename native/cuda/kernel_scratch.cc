#include "cuda/kernel_scratch.h"

#include <cuda_runtime_api.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "cuda/cuda_backend.h"

namespace vit::cuda {

namespace {

struct Scratch {
  void* ptr = nullptr;
  size_t bytes = 0;
  // Smaller buffers replaced by a growth: work queued earlier on the stream (or a captured graph)
  // may still use them, so they are kept.
  std::vector<void*> retired;
};

std::mutex& scratchMutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<cudaStream_t, Scratch>& scratchTable() {
  static auto* table = new std::unordered_map<cudaStream_t, Scratch>();  // never destroyed
  return *table;
}
KernelScratchStats& stats() {
  static KernelScratchStats s;
  return s;
}

}  // namespace

void* kernelScratch(Stream stream, size_t bytes) {
  auto s = static_cast<cudaStream_t>(stream.handle);
  std::lock_guard<std::mutex> lock(scratchMutex());
  Scratch& entry = scratchTable()[s];
  if (entry.ptr && entry.bytes >= bytes) return entry.ptr;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &capture) == cudaSuccess && capture != cudaStreamCaptureStatusNone) {
    throw Error(ErrorCode::CudaError,
                "kernel scratch must grow to " + std::to_string(bytes) +
                    " bytes during a CUDA graph capture (cudaMalloc is not allowed there)",
                "scratch sized during the plan's first, uncaptured run",
                std::to_string(entry.bytes) + " bytes reserved");
  }
  // Geometric growth, 1 MiB at least: a few sizes settle after the first run.
  size_t want = entry.bytes * 2;
  if (want < bytes) want = bytes;
  if (want < (size_t{1} << 20)) want = size_t{1} << 20;
  void* ptr = nullptr;
  cudaError_t st = cudaMalloc(&ptr, want);
  if (st != cudaSuccess) {
    cudaGetLastError();
    if (isStickyError(st)) {
      throw Error(ErrorCode::DeviceLost,
                  std::string("cudaMalloc of kernel scratch failed: ") + cudaGetErrorName(st),
                  "a usable device", cudaGetErrorName(st));
    }
    throw Error(st == cudaErrorMemoryAllocation ? ErrorCode::DeviceOom : ErrorCode::CudaError,
                "kernel scratch of " + std::to_string(want) + " bytes could not be allocated: " +
                    cudaGetErrorName(st),
                "free device memory", std::to_string(want) + " bytes");
  }
  if (entry.ptr) entry.retired.push_back(entry.ptr);
  entry.ptr = ptr;
  entry.bytes = want;
  stats().bytes += want;
  stats().mallocs += 1;
  return ptr;
}

KernelScratchStats kernelScratchStats() {
  std::lock_guard<std::mutex> lock(scratchMutex());
  return stats();
}

}  // namespace vit::cuda
