// A host-emulated CUDA runtime: the cuda* functions the nccl backend (and what it links) calls,
// defined with the signatures of the toolkit's <cuda_runtime_api.h>, so the project's sources
// compile unchanged against the real header and link against this file instead of libcudart.
//
// What is emulated (README.md says what this does NOT prove):
//   - device memory is host memory (cudaMalloc = aligned host allocation);
//   - a stream is a FIFO run by a worker thread of its own, so work that waits on the stream (a
//     collective waiting for its peers) never blocks the thread that enqueued it, as on a GPU;
//   - an event completes when its stream has run everything queued before its record;
//     cudaEventQuery says cudaErrorNotReady until then;
//   - cudaSetDevice / cudaGetDevice are per thread (8 devices);
//   - graph capture only as far as cudaStreamIsCapturing and "work is recorded, not run" (hooks).
#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_hooks.h"

namespace {

constexpr int kDevices = 8;

thread_local int tDevice = 0;
thread_local cudaError_t tLastError = cudaSuccess;
thread_local cudaStreamCaptureMode tCaptureMode = cudaStreamCaptureModeGlobal;

std::atomic<int64_t> gEventsCreated{0}, gEventsRecorded{0}, gEventsDestroyed{0};
std::atomic<int64_t> gStreamsCreated{0}, gStreamsDestroyed{0};

cudaError_t fail(cudaError_t e) {
  tLastError = e;
  return e;
}

// One stream's queue and worker. Shared by the handle and the worker, so a stream destroyed with
// work still queued finishes that work first (cudaStreamDestroy returns at once, as in CUDA).
struct StreamState {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  bool running = false;   // the worker is inside an item
  bool stopping = false;  // destroyed: finish the queue, then end
  bool capturing = false;
  std::vector<std::function<void()>> captured;
  int device = 0;

  void loop() {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping and drained
      std::function<void()> item = std::move(queue.front());
      queue.pop_front();
      running = true;
      lock.unlock();
      item();
      lock.lock();
      running = false;
      cv.notify_all();
    }
  }

  // Queues `item` (or records it, under capture).
  void enqueue(std::function<void()> item) {
    std::lock_guard<std::mutex> lock(m);
    if (capturing) {
      captured.push_back(std::move(item));
      return;
    }
    queue.push_back(std::move(item));
    cv.notify_all();
  }

  bool idleWithin(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(m);
    return cv.wait_for(lock, limit, [&] { return queue.empty() && !running; });
  }
};

struct EventState {
  std::mutex m;
  uint64_t recorded = 0;   // records issued
  uint64_t completed = 0;  // the latest record its stream has passed
};

}  // namespace

// The runtime's opaque handle types, given a body here (the header only declares them).
struct CUstream_st {
  std::shared_ptr<StreamState> state;
};
struct CUevent_st {
  std::shared_ptr<EventState> state;
};

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = kDevices;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= kDevices) return fail(cudaErrorInvalidDevice);
  tDevice = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = tDevice;
  return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = tLastError;
  tLastError = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return tLastError; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    default: return "unknown error";
  }
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  // 256-byte aligned like cudaMalloc; never a null pointer for size 0.
  *ptr = std::aligned_alloc(256, ((size + 255) / 256 + 1) * 256);
  return *ptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode* mode) {
  std::swap(*mode, tCaptureMode);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  auto state = std::make_shared<StreamState>();
  state->device = tDevice;
  std::thread([state] { state->loop(); }).detach();
  *stream = new CUstream_st{state};
  gStreamsCreated++;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  {
    std::lock_guard<std::mutex> lock(stream->state->m);
    stream->state->stopping = true;
  }
  stream->state->cv.notify_all();
  delete stream;
  gStreamsDestroyed++;
  return cudaSuccess;
}

// The legacy default stream (a null handle) is not emulated: the nccl backend always passes the
// plan's stream, and a null one here would be a bug this should catch.
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  std::unique_lock<std::mutex> lock(stream->state->m);
  stream->state->cv.wait(lock, [&] { return stream->state->queue.empty() && !stream->state->running; });
  return cudaSuccess;
}

// Not ready is not an error: it does not become the thread's last error (as in CUDA).
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(stream->state->m);
  return stream->state->queue.empty() && !stream->state->running ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus* status) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(stream->state->m);
  *status = stream->state->capturing ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData) {
  if (!stream || !fn) return fail(cudaErrorInvalidResourceHandle);
  stream->state->enqueue([fn, userData] { fn(userData); });
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  if ((!dst || !src) && count > 0) return fail(cudaErrorInvalidValue);
  if (kind == cudaMemcpyHostToDevice) {
    // From (pageable) host memory CUDA copies the source into a staging buffer before it returns,
    // so the caller may reuse it at once; the copy to the device follows in stream order.
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + count);
    stream->state->enqueue([dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
    return cudaSuccess;
  }
  stream->state->enqueue([dst, src, count] { std::memmove(dst, src, count); });
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind) {
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  *event = new CUevent_st{std::make_shared<EventState>()};
  gEventsCreated++;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  delete event;  // a record still queued keeps the state alive; the handle is gone
  gEventsDestroyed++;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event || !stream) return fail(cudaErrorInvalidResourceHandle);
  std::shared_ptr<EventState> e = event->state;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(e->m);
    id = ++e->recorded;
  }
  gEventsRecorded++;
  stream->state->enqueue([e, id] {
    std::lock_guard<std::mutex> lock(e->m);
    if (e->completed < id) e->completed = id;
  });
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(event->state->m);
  // Not ready is not an error: it does not become the thread's last error (as in CUDA).
  return event->state->completed >= event->state->recorded ? cudaSuccess : cudaErrorNotReady;
}

void cudaFakeCounts(CudaFakeCounts* out) {
  out->eventsCreated = gEventsCreated;
  out->eventsRecorded = gEventsRecorded;
  out->eventsDestroyed = gEventsDestroyed;
  out->streamsCreated = gStreamsCreated;
  out->streamsDestroyed = gStreamsDestroyed;
}

bool cudaFakeStreamIdleWithin(CUstream_st* stream, int64_t ms) {
  return stream->state->idleWithin(std::chrono::milliseconds(ms));
}

void cudaFakeBeginCapture(CUstream_st* stream) {
  std::lock_guard<std::mutex> lock(stream->state->m);
  stream->state->capturing = true;
}

void cudaFakeEndCapture(CUstream_st* stream, bool replay) {
  StreamState& s = *stream->state;
  std::lock_guard<std::mutex> lock(s.m);
  s.capturing = false;
  if (replay) {
    for (auto& item : s.captured) s.queue.push_back(std::move(item));
    s.cv.notify_all();
  }
  s.captured.clear();
}

}  // extern "C"
