#include "cuda/caching_allocator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/status.h"

namespace vit::cuda {

namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;   // below: 512-byte granules
constexpr size_t kSmallGranule = 512;
constexpr size_t kLargeGranule = size_t{2} << 20;  // 2 MiB

size_t roundUp(size_t v, size_t granule) {
  // Overflow: a request this large fails in cudaMalloc anyway; keep it unrounded so the message
  // shows the caller's figure.
  if (v > SIZE_MAX - granule) return v;
  return (v + granule - 1) / granule * granule;
}

// A cached block serves a request when it wastes at most half of itself (small blocks) or a
// quarter of the request (large ones): otherwise a tiny request would pin a huge block.
bool fits(size_t blockSize, size_t rounded) {
  if (blockSize < rounded) return false;
  return rounded < kSmallLimit ? blockSize <= 2 * rounded : blockSize <= rounded + rounded / 4;
}

std::string mib(uint64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
  return buf;
}

}  // namespace

size_t CachingAllocator::roundSize(size_t bytes) {
  if (bytes == 0) bytes = 1;
  return bytes < kSmallLimit ? roundUp(bytes, kSmallGranule) : roundUp(bytes, kLargeGranule);
}

CachingAllocator::CachingAllocator(std::string describe,
                                   std::function<void(cudaError_t, const char*)> check)
    : describe_(std::move(describe)), check_(std::move(check)) {
  const char* env = std::getenv("VIT22B_CUDA_CACHING");
  caching_ = !(env && std::strcmp(env, "0") == 0);
}

CachingAllocator::~CachingAllocator() { emptyCache(); }

void* CachingAllocator::allocate(size_t bytes, cudaStream_t stream) {
  const size_t rounded = roundSize(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  if (caching_) {
    auto listIt = free_.find(stream);
    if (listIt != free_.end()) {
      FreeList& list = listIt->second;
      auto it = list.lower_bound(rounded);
      if (it != list.end() && fits(it->first, rounded)) {
        ptr = it->second;
        const size_t size = it->first;
        list.erase(it);
        stats_.cachedBytes -= size;
        stats_.cacheHits += 1;
        live_[ptr] = Block{size, stream};
        stats_.allocatedBytes += size;
        stats_.liveBlocks += 1;
        stats_.peakAllocatedBytes = std::max(stats_.peakAllocatedBytes, stats_.allocatedBytes);
        return ptr;
      }
    }
  }
  ptr = mallocWithRetry(rounded, bytes);
  live_[ptr] = Block{rounded, stream};
  stats_.allocatedBytes += rounded;
  stats_.reservedBytes += rounded;
  stats_.liveBlocks += 1;
  stats_.peakAllocatedBytes = std::max(stats_.peakAllocatedBytes, stats_.allocatedBytes);
  return ptr;
}

// Under the lock.
void* CachingAllocator::mallocWithRetry(size_t rounded, size_t requested) {
  void* ptr = nullptr;
  cudaError_t st = cudaMalloc(&ptr, rounded);
  if (st == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so later calls do not report it
    if (stats_.cachedBytes > 0) {
      emptyCacheLocked();
      stats_.cacheFlushes += 1;
      st = cudaMalloc(&ptr, rounded);
      if (st == cudaErrorMemoryAllocation) cudaGetLastError();
    }
  }
  if (st == cudaErrorMemoryAllocation) {
    size_t freeBytes = 0, totalBytes = 0;
    cudaMemGetInfo(&freeBytes, &totalBytes);
    cudaGetLastError();
    const std::string figures =
        "requested " + std::to_string(requested) + " bytes (" + mib(requested) + "), " +
        std::to_string(freeBytes) + " bytes free of " + std::to_string(totalBytes) + " (" +
        mib(freeBytes) + " of " + mib(totalBytes) + "), " + std::to_string(stats_.allocatedBytes) +
        " bytes allocated by vit22b (" + mib(stats_.allocatedBytes) + "), " +
        std::to_string(stats_.cachedBytes) + " bytes cached";
    throw Error(ErrorCode::DeviceOom, "out of memory on " + describe_ + ": " + figures,
                "at most " + std::to_string(freeBytes) + " bytes (free; " +
                    std::to_string(stats_.allocatedBytes) + " allocated, " +
                    std::to_string(stats_.cachedBytes) + " cached)",
                std::to_string(requested) + " bytes");
  }
  check_(st, "cudaMalloc");
  stats_.cudaMallocCount += 1;
  return ptr;
}

void CachingAllocator::release(void* ptr, bool deviceLost) noexcept {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  const Block block = it->second;
  live_.erase(it);
  stats_.allocatedBytes -= block.size;
  stats_.liveBlocks -= 1;
  if (deviceLost) {
    // The dead context took its memory with it.
    stats_.reservedBytes -= block.size;
    return;
  }
  if (!caching_) {
    cudaFree(ptr);
    stats_.cudaFreeCount += 1;
    stats_.reservedBytes -= block.size;
    return;
  }
  try {
    free_[block.stream].emplace(block.size, ptr);
    stats_.cachedBytes += block.size;
  } catch (...) {
    // Out of host memory for the bookkeeping: give the block back to CUDA instead.
    cudaFree(ptr);
    stats_.cudaFreeCount += 1;
    stats_.reservedBytes -= block.size;
  }
}

uint64_t CachingAllocator::emptyCache() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return emptyCacheLocked();
}

uint64_t CachingAllocator::emptyCacheLocked() noexcept {
  uint64_t freed = 0;
  for (auto& [stream, list] : free_) {
    for (auto& [size, ptr] : list) {
      cudaFree(ptr);  // errors here (a lost context) leave nothing to do
      freed += size;
      stats_.cudaFreeCount += 1;
    }
    list.clear();
  }
  free_.clear();
  stats_.cachedBytes -= std::min<uint64_t>(stats_.cachedBytes, freed);
  stats_.reservedBytes -= std::min<uint64_t>(stats_.reservedBytes, freed);
  cudaGetLastError();
  return freed;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace vit::cuda
