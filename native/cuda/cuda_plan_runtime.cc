#include "cuda/cuda_plan_runtime.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/status.h"
#include "cuda/cublaslt_context.h"
#include "cuda/stream_scratch.h"

namespace vit::cuda {

namespace {

// The f32 part of the scalar block, padded so the i64 part is 8-byte aligned.
size_t f32Bytes(size_t n) { return (n * sizeof(float) + 7) / 8 * 8; }

int64_t asI64(double v) {
  // Integer fields are range-checked to whole numbers below 2^53 before a run; any other value
  // only ever feeds an f32 field, so its i64 twin is never read.
  return std::isfinite(v) && std::fabs(v) < 9.0e18 ? static_cast<int64_t>(v) : 0;
}

}  // namespace

CudaPlanRuntime::CudaPlanRuntime(CudaBackend& backend, size_t streams, size_t events,
                                 size_t scalars)
    : backend_(backend), scalarCount_(scalars) {
  const char* env = std::getenv("VIT22B_CUDA_GRAPHS");
  graphsEnabled_ = !(env && std::strcmp(env, "0") == 0);
  // In a mesh over NCCL, capture only when asked (VIT22B_CUDA_GRAPHS=1): a collective inside a
  // replayed graph is watched only through NCCL's asynchronous errors, not by our per-collective
  // deadline, and capture of our non-blocking communicators has not been tried on a GPU yet.
  if (backend_.comms() && !(env && std::strcmp(env, "1") == 0)) graphsEnabled_ = false;
  try {
    backend_.bindThread();
    const size_t count = streams == 0 ? 1 : streams;
    for (size_t s = 0; s < count; ++s) {
      cudaStream_t st = nullptr;
      backend_.check(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      streams_.push_back(st);
    }
    auto newEvent = [&] {
      cudaEvent_t e = nullptr;
      backend_.check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
      return e;
    };
    for (size_t e = 0; e < events; ++e) events_.push_back(newEvent());
    entryEvent_ = newEvent();
    forkEvent_ = newEvent();
    for (size_t s = 0; s < count; ++s) joinEvents_.push_back(newEvent());
    if (scalars > 0) {
      blockBytes_ = f32Bytes(scalars) + scalars * sizeof(int64_t);
      backend_.check(cudaMallocHost(&hostBlock_, blockBytes_), "cudaMallocHost (plan scalars)");
      std::memset(hostBlock_, 0, blockBytes_);
      deviceBlock_ = backend_.allocate(blockBytes_);
      deviceF32_ = static_cast<float*>(deviceBlock_);
      deviceI64_ = reinterpret_cast<int64_t*>(static_cast<char*>(deviceBlock_) + f32Bytes(scalars));
    }
  } catch (...) {
    releaseAll();
    throw;
  }
}

CudaPlanRuntime::~CudaPlanRuntime() { releaseAll(); }

void CudaPlanRuntime::releaseAll() noexcept {
  const bool lost = backend_.isLost();
  if (!lost) {
    cudaSetDevice(backend_.ordinal());
    for (cudaStream_t s : streams_) cudaStreamSynchronize(s);
  }
  // On a lost context these calls fail harmlessly; the driver has dropped everything already.
  for (cudaGraphExec_t g : graphs_) {
    if (g) cudaGraphExecDestroy(g);
  }
  graphs_.clear();
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  for (cudaEvent_t e : joinEvents_) cudaEventDestroy(e);
  if (entryEvent_) cudaEventDestroy(entryEvent_);
  if (forkEvent_) cudaEventDestroy(forkEvent_);
  events_.clear();
  joinEvents_.clear();
  entryEvent_ = forkEvent_ = nullptr;
  for (cudaStream_t s : streams_) {
    // After the graphs that may point into them are gone: the stream's GEMM workspace and kernel
    // scratch (a later stream may get the same handle and must start afresh).
    releaseCublasLtStream(s);
    releaseStreamScratch(s);
    cudaStreamDestroy(s);
  }
  streams_.clear();
  if (deviceBlock_) backend_.release(deviceBlock_);
  if (hostBlock_) cudaFreeHost(hostBlock_);
  deviceBlock_ = hostBlock_ = nullptr;
  cudaGetLastError();
}

// The device's mesh communicators ride along (null outside a mesh): the collective kernels find the
// NCCL communicator of their axis through Stream::comm.
Stream CudaPlanRuntime::stream(size_t planStream) {
  return Stream{streams_[planStream], backend_.comms()};
}

void CudaPlanRuntime::recordEvent(size_t planStream, uint64_t event) {
  backend_.check(cudaEventRecord(events_[event], streams_[planStream]), "cudaEventRecord");
}

void CudaPlanRuntime::waitEvent(size_t planStream, uint64_t event) {
  backend_.check(cudaStreamWaitEvent(streams_[planStream], events_[event], 0), "cudaStreamWaitEvent");
}

void CudaPlanRuntime::fork() {
  if (streams_.size() < 2) return;
  backend_.check(cudaEventRecord(forkEvent_, streams_[0]), "cudaEventRecord (fork)");
  for (size_t s = 1; s < streams_.size(); ++s) {
    backend_.check(cudaStreamWaitEvent(streams_[s], forkEvent_, 0), "cudaStreamWaitEvent (fork)");
  }
}

void CudaPlanRuntime::join() {
  for (size_t s = 1; s < streams_.size(); ++s) {
    backend_.check(cudaEventRecord(joinEvents_[s], streams_[s]), "cudaEventRecord (join)");
    backend_.check(cudaStreamWaitEvent(streams_[0], joinEvents_[s], 0), "cudaStreamWaitEvent (join)");
  }
}

void CudaPlanRuntime::synchronize() {
  for (cudaStream_t s : streams_) backend_.check(cudaStreamSynchronize(s), "plan step");
}

void CudaPlanRuntime::drainAfterError() noexcept {
  for (cudaStream_t s : streams_) {
    cudaError_t st = cudaStreamSynchronize(s);
    if (st != cudaSuccess && isStickyError(st)) {
      try {
        backend_.check(st, "plan step");  // marks the device lost
      } catch (...) {
      }
      return;  // nothing more can be waited for on a dead context
    }
  }
  cudaGetLastError();
}

void CudaPlanRuntime::setRunScalars(const std::vector<double>& values) {
  // The step starts after whatever was queued on the backend's own stream (launch(), copies).
  backend_.check(cudaEventRecord(entryEvent_, static_cast<cudaStream_t>(backend_.stream().handle)),
                 "cudaEventRecord (step entry)");
  backend_.check(cudaStreamWaitEvent(streams_[0], entryEvent_, 0), "cudaStreamWaitEvent (step entry)");
  if (scalarCount_ == 0) return;
  // The previous step's copy from this block has finished: every run ends with a synchronize (or
  // drainAfterError), so the host block is free to overwrite.
  float* f = static_cast<float*>(hostBlock_);
  int64_t* i = reinterpret_cast<int64_t*>(static_cast<char*>(hostBlock_) + f32Bytes(scalarCount_));
  for (size_t k = 0; k < scalarCount_ && k < values.size(); ++k) {
    f[k] = static_cast<float>(values[k]);
    i[k] = asI64(values[k]);
  }
  backend_.check(cudaMemcpyAsync(deviceBlock_, hostBlock_, blockBytes_, cudaMemcpyHostToDevice,
                                 streams_[0]),
                 "cudaMemcpyAsync (run scalars)");
}

bool CudaPlanRuntime::hasGraph(size_t segment) const {
  return segment < graphs_.size() && graphs_[segment] != nullptr;
}

void CudaPlanRuntime::beginCapture() {
  // ThreadLocal: only this (worker) thread's unsafe calls invalidate the capture; the JavaScript
  // thread may meanwhile use other devices or the CPU freely.
  backend_.check(cudaStreamBeginCapture(streams_[0], cudaStreamCaptureModeThreadLocal),
                 "cudaStreamBeginCapture");
}

void CudaPlanRuntime::endCapture(size_t segment) {
  cudaGraph_t graph = nullptr;
  backend_.check(cudaStreamEndCapture(streams_[0], &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  cudaError_t st = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  backend_.check(st, "cudaGraphInstantiate");
  if (graphs_.size() <= segment) graphs_.resize(segment + 1, nullptr);
  if (graphs_[segment]) cudaGraphExecDestroy(graphs_[segment]);
  graphs_[segment] = exec;
}

void CudaPlanRuntime::abortCapture() noexcept {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(streams_[0], &status) == cudaSuccess &&
      status != cudaStreamCaptureStatusNone) {
    // Ends the capture sequence (forked streams included) whether or not it was invalidated.
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(streams_[0], &graph);
    if (graph) cudaGraphDestroy(graph);
  }
  cudaGetLastError();
}

void CudaPlanRuntime::launchGraph(size_t segment) {
  backend_.check(cudaGraphLaunch(graphs_[segment], streams_[0]), "cudaGraphLaunch");
}

}  // namespace vit::cuda
