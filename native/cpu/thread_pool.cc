#include "cpu/thread_pool.h"

#include <cstdlib>
#include <string>

#include "core/status.h"
#include "cpu/cpu_features.h"

namespace vit::cpu {

namespace {
// Set on pool workers and on a caller while it runs its chunk: a nested parallelFor runs inline
// instead of waiting on workers that are busy with the outer call (which would deadlock).
thread_local bool insideChunk = false;
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  workers_.reserve(threads_ - 1);
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::runChunk(int index) {
  int64_t begin = n_ * index / chunks_;
  int64_t end = n_ * (index + 1) / chunks_;
  try {
    if (begin < end) body_(context_, begin, end);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::workerLoop(int index) {
  insideChunk = true;
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= chunks_) continue;  // this job has fewer chunks than the pool has threads
    }
    runChunk(index);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--pending_ == 0) done_.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t n, Body body, void* context) {
  if (n <= 0) return;
  if (threads_ == 1 || n == 1 || insideChunk) {
    body(context, 0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    n_ = n;
    chunks_ = static_cast<int>(n < threads_ ? n : threads_);
    body_ = body;
    context_ = context;
    pending_ = chunks_ - 1;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  insideChunk = true;
  runChunk(0);
  insideChunk = false;
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

int configuredThreads() {
  const char* env = std::getenv("VIT22B_NUM_THREADS");
  if (env && *env) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 1024) {
      throw Error(ErrorCode::InvalidArgument, "VIT22B_NUM_THREADS must be an integer in [1, 1024]",
                  "an integer in [1, 1024]", env);
    }
    return static_cast<int>(v);
  }
  return detectCpu().threads;
}

ThreadPool& defaultThreadPool() {
  // Deliberately never destroyed: joining workers from a static destructor while Node.js tears
  // the process down can hang, and the OS reclaims the threads at exit anyway.
  static ThreadPool* pool = new ThreadPool(configuredThreads());
  return *pool;
}

}  // namespace vit::cpu
