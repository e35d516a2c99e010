// A caching allocator for one CUDA device. cudaMalloc and cudaFree are slow (cudaFree synchronizes
// the whole device), so freed blocks are kept in size-rounded free lists, one set per stream, and
// handed out again to later requests on the same stream: once a training loop has warmed up (its
// buffers and plan arena allocated, its kernels' scratch grown) it does no cudaMalloc at all.
//
// Stream rule: a block freed on stream S goes back to S's free list and is only reused by requests
// on S. Work queued on S before the free still runs before anything queued on S after the reuse,
// so no synchronization is needed. (Buffers of this project are all allocated and freed on the
// backend's default stream; plan streams only use memory the plan owns, and a plan run waits for
// all of its streams before it returns.)
//
// Out of memory: when cudaMalloc fails, every cached (free) block of every stream is cudaFree'd and
// the request retried once; if that fails too, ERR_DEVICE_OOM with the requested, free, allocated
// (by this allocator, in use) and cached figures. Nothing is left half-done, so a smaller request
// afterwards works normally.
//
// VIT22B_CUDA_CACHING=0 turns caching off (every allocate is a cudaMalloc, every release a cudaFree):
// for compute-sanitizer runs, which only see out-of-bounds accesses past real allocations.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vit::cuda {

struct AllocatorStats {
  uint64_t allocatedBytes = 0;      // in use by callers (rounded sizes)
  uint64_t cachedBytes = 0;         // free blocks held for reuse
  uint64_t peakAllocatedBytes = 0;  // highest allocatedBytes so far
  uint64_t reservedBytes = 0;       // allocated + cached: what cudaMalloc gave us
  uint64_t cudaMallocCount = 0;     // successful cudaMalloc calls so far
  uint64_t cudaFreeCount = 0;
  uint64_t cacheHits = 0;           // requests served from a free list
  uint64_t cacheFlushes = 0;        // times the cache was emptied to retry after an OOM
  uint64_t liveBlocks = 0;          // blocks in use
};

class CachingAllocator {
 public:
  // `describe` names the device for messages; `check` turns a CUDA error into a vit::Error (the
  // backend's check, which also notices sticky faults).
  CachingAllocator(std::string describe, std::function<void(cudaError_t, const char*)> check);
  ~CachingAllocator();  // frees the cache; blocks still in use are the owners' to free
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` bytes (256-byte aligned, like cudaMalloc) for work on `stream`.
  // Throws ERR_DEVICE_OOM (figures in message, expected and received) or the check's errors. The
  // caller must have made this device current (cudaSetDevice).
  void* allocate(size_t bytes, cudaStream_t stream);
  // Returns a block from allocate() to its stream's free list. Never throws; unknown pointers are
  // ignored (counted nowhere). `deviceLost`: the context is dead, only forget the block.
  void release(void* ptr, bool deviceLost) noexcept;
  // cudaFree of every cached block (all streams). Returns the bytes given back.
  uint64_t emptyCache() noexcept;

  AllocatorStats stats() const;
  bool caching() const { return caching_; }

  // The size a request is rounded to: 512-byte multiples below 1 MiB, 2 MiB multiples above (few
  // distinct large sizes, so freed activations fit later requests of the same shape).
  static size_t roundSize(size_t bytes);

 private:
  struct Block {
    size_t size = 0;
    cudaStream_t stream = nullptr;
  };
  // Free blocks of one stream, by size (several blocks may share a size).
  using FreeList = std::multimap<size_t, void*>;

  void* mallocWithRetry(size_t rounded, size_t requested);
  uint64_t emptyCacheLocked() noexcept;

  std::string describe_;
  std::function<void(cudaError_t, const char*)> check_;
  bool caching_ = true;
  mutable std::mutex mutex_;
  std::unordered_map<void*, Block> live_;             // blocks handed out
  std::unordered_map<cudaStream_t, FreeList> free_;   // cached blocks per stream
  AllocatorStats stats_;
};

}  // namespace vit::cuda
