#include "cuda/stream_scratch.h"

#include <algorithm>
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
  void* current = nullptr;
  size_t capacity = 0;
  std::vector<void*> retired;  // outgrown buffers, still referenced by queued or captured work
  uint64_t held = 0;           // bytes of current and retired buffers
};

// Keyed by (device, stream): the legacy default stream (nullptr) exists once per device.
std::mutex gMutex;
std::map<std::pair<int, cudaStream_t>, Scratch>& table() {
  static auto* t = new std::map<std::pair<int, cudaStream_t>, Scratch>();  // never destroyed:
  return *t;  // a static destructor would run cudaFree after the CUDA runtime has shut down
}

StreamScratchStats gStats;  // under gMutex

}  // namespace

void checkCuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::string detail = std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                       cudaGetErrorString(status) + ")";
  if (isStickyError(status)) {
    throw Error(ErrorCode::DeviceLost, detail + "; the device is now unusable in this process",
                "a usable device", cudaGetErrorName(status));
  }
  cudaGetLastError();
  if (status == cudaErrorMemoryAllocation) {
    throw Error(ErrorCode::DeviceOom, detail, "free device memory", cudaGetErrorName(status));
  }
  throw Error(ErrorCode::CudaError, detail, "cudaSuccess", cudaGetErrorName(status));
}

void* streamScratch(cudaStream_t stream, size_t bytes) {
  int device = 0;
  checkCuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(gMutex);
  Scratch& s = table()[{device, stream}];
  if (s.capacity >= bytes && s.current) return s.current;
  // Double at least, so a sequence of growing requests allocates O(log) times.
  size_t capacity = std::max<size_t>({bytes, 2 * s.capacity, 4096});
  void* ptr = nullptr;
  RelaxedCaptureScope relaxed;  // a first use inside a graph capture may allocate
  cudaError_t st = cudaMalloc(&ptr, capacity);
  if (st == cudaErrorMemoryAllocation && capacity > bytes) {
    cudaGetLastError();
    capacity = bytes;  // the doubling was too greedy: ask for exactly what is needed
    st = cudaMalloc(&ptr, capacity);
  }
  checkCuda(st, "cudaMalloc of stream scratch");
  if (s.current) s.retired.push_back(s.current);
  s.current = ptr;
  s.capacity = capacity;
  s.held += capacity;
  gStats.bytes += capacity;
  gStats.mallocs += 1;
  return ptr;
}

void releaseStreamScratch(cudaStream_t stream) noexcept {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return;
  std::lock_guard<std::mutex> lock(gMutex);
  auto it = table().find({device, stream});
  if (it == table().end()) return;
  for (void* p : it->second.retired) cudaFree(p);
  if (it->second.current) cudaFree(it->second.current);
  gStats.bytes -= std::min<uint64_t>(gStats.bytes, it->second.held);
  table().erase(it);
}

}  // namespace vit::cuda

namespace vit::cuda {

StreamScratchStats streamScratchStats() {
  std::lock_guard<std::mutex> lock(gMutex);
  return gStats;
}

}  // namespace vit::cuda
