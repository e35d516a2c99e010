// A small persistent pool of worker threads for the CPU kernels. parallelFor splits [0, n) into
// contiguous static chunks, one per thread, so which thread computes what is a pure function of
// (n, threads): kernels keep their results independent of the thread count by making every output
// element the work of exactly one chunk, reduced in a fixed order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vit::cpu {

class ThreadPool {
 public:
  // A body over the index range [begin, end). A plain function pointer plus context, so a call
  // allocates nothing.
  using Body = void (*)(void* context, int64_t begin, int64_t end);

  explicit ThreadPool(int threads);  // the calling thread is one of `threads`
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // Runs body over [0, n) in min(threads, n) chunks; chunk t is [t*n/T, (t+1)*n/T). Blocks until
  // every chunk is done and rethrows the first exception a chunk threw. A call from inside a
  // chunk (nested parallelism) runs inline on the calling thread; calls from several outside
  // threads take turns.
  void parallelFor(int64_t n, Body body, void* context);

  template <typename Fn>
  void parallelFor(int64_t n, const Fn& fn) {
    parallelFor(
        n, [](void* ctx, int64_t b, int64_t e) { (*static_cast<const Fn*>(ctx))(b, e); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  void workerLoop(int index);
  void runChunk(int index);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex callMutex_;  // one parallelFor at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  // The job being run, valid while pending_ > 0.
  int64_t n_ = 0;
  int chunks_ = 0;
  Body body_ = nullptr;
  void* context_ = nullptr;
  int pending_ = 0;
  std::exception_ptr error_;
};

// Threads for the default pool: VIT22B_NUM_THREADS when set (an integer in [1, 1024], otherwise
// ERR_INVALID_ARGUMENT), else the logical CPUs this process may use (detectCpu().threads).
int configuredThreads();

// The process-wide pool, created on first use with configuredThreads() threads.
ThreadPool& defaultThreadPool();

}  // namespace vit::cpu
