#include "cuda/stream_scratch.h"

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "cuda/cuda_backend.h"

namespace vit::cuda {

namespace {

struct Scratch {
  void* ptr = nullptr;
  size_t bytes = 0;
};

std::mutex& scratchMutex() {
  static std::mutex m;
  return m;
}

// Keyed by (device ordinal, stream handle). Never destroyed: see the header on retired buffers.
std::map<std::pair<int, cudaStream_t>, Scratch>& scratchTable() {
  static auto* table = new std::map<std::pair<int, cudaStream_t>, Scratch>();
  return *table;
}

std::vector<void*>& retired() {
  static auto* list = new std::vector<void*>();
  return *list;
}

}  // namespace

void checkCudaCall(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::string detail = std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                       cudaGetErrorString(status) + ")";
  if (isStickyError(status)) {
    throw Error(ErrorCode::DeviceLost, detail, "a usable device", cudaGetErrorName(status));
  }
  cudaGetLastError();  // a non-sticky error must not be reported again by the next launch check
  if (status == cudaErrorMemoryAllocation) {
    throw Error(ErrorCode::DeviceOom, detail, "free device memory", cudaGetErrorName(status));
  }
  throw Error(ErrorCode::CudaError, detail, "cudaSuccess", cudaGetErrorName(status));
}

void* streamScratch(cudaStream_t stream, size_t bytes) {
  if (bytes == 0) bytes = 1;
  int device = 0;
  checkCudaCall(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(scratchMutex());
  Scratch& s = scratchTable()[{device, stream}];
  if (s.bytes >= bytes) return s.ptr;
  // Grow geometrically (at least 64 KiB) so a sequence of slightly larger requests allocates
  // only a few times.
  size_t want = bytes < (64u << 10) ? (64u << 10) : bytes;
  if (want < 2 * s.bytes) want = 2 * s.bytes;
  void* ptr = nullptr;
  {
    RelaxedCaptureScope relaxed;
    checkCudaCall(cudaMalloc(&ptr, want), "cudaMalloc (kernel scratch)");
  }
  if (s.ptr) retired().push_back(s.ptr);
  s.ptr = ptr;
  s.bytes = want;
  return ptr;
}

}  // namespace vit::cuda
