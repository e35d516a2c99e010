#include "cuda/cuda_backend.h"

#include "core/status.h"
#include "cuda/cublaslt_context.h"
#include "cuda/cuda_plan_runtime.h"
#include "cuda/cuda_probe.h"
#include "cuda/stream_scratch.h"

namespace vit::cuda {

bool isStickyError(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

CudaBackend::CudaBackend(int ordinal) : ordinal_(ordinal) {
  // The probe names the cause (no driver, driver too old, no device) in words a user can act on.
  CudaProbe probe = probeCuda();
  if (probe.reasonCode == "no-driver" || probe.reasonCode == "driver-too-old" ||
      probe.reasonCode == "no-device" || probe.reasonCode == "error") {
    throw Error(ErrorCode::CudaUnavailable, "CUDA is not usable: " + probe.reason,
                "a working NVIDIA driver and CUDA device", probe.reasonCode);
  }
  int count = static_cast<int>(probe.devices.size());
  if (ordinal < 0 || ordinal >= count) {
    throw Error(ErrorCode::CudaUnavailable, "no CUDA device with index " + std::to_string(ordinal),
                "an index below " + std::to_string(count), std::to_string(ordinal));
  }
  check(cudaSetDevice(ordinal), "cudaSetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  description_ = "cuda:" + std::to_string(ordinal) + " (" + prop.name + ")";
  if (prop.major < kMinComputeMajor) {
    throw Error(ErrorCode::CudaUnavailable,
                description_ + " has compute capability " + std::to_string(prop.major) + "." +
                    std::to_string(prop.minor) + "; vit22b's CUDA kernels need " +
                    std::to_string(kMinComputeMajor) + ".0 or newer",
                std::to_string(kMinComputeMajor) + ".0 or newer",
                std::to_string(prop.major) + "." + std::to_string(prop.minor));
  }
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  allocator_ = std::make_unique<CachingAllocator>(
      description_, [this](cudaError_t st, const char* what) { check(st, what); });
}

CudaBackend::~CudaBackend() {
  if (stream_ && !lost_) {
    cudaSetDevice(ordinal_);
    cudaStreamSynchronize(stream_);
    releaseCublasLtStream(stream_);  // the GEMM workspace of this stream (cublaslt_context.h)
    releaseStreamScratch(stream_);  // kernels' scratch of this stream (cuda/stream_scratch.h)
    allocator_.reset();  // cudaFree of the cache
    cudaStreamDestroy(stream_);
  }
}

void CudaBackend::ensureUsable() const {
  if (lost_) {
    throw Error(ErrorCode::DeviceLost,
                description_ + " is unusable after an earlier fault (" + lostReason_ +
                    "); restart the process to use the GPU again",
                "a usable device", "device lost");
  }
}

void CudaBackend::bindThread() {
  ensureUsable();
  check(cudaSetDevice(ordinal_), "cudaSetDevice");
}

void CudaBackend::check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::string detail = std::string(what) + " failed on " + description_ + ": " +
                       cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
  if (isStickyError(status)) {
    if (!lost_.exchange(true)) lostReason_ = detail;
    throw Error(ErrorCode::DeviceLost, detail + "; the device is now unusable in this process",
                "a usable device", cudaGetErrorName(status));
  }
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  if (status == cudaErrorMemoryAllocation) {
    throw Error(ErrorCode::DeviceOom, detail, "free device memory", cudaGetErrorName(status));
  }
  throw Error(ErrorCode::CudaError, detail, "cudaSuccess", cudaGetErrorName(status));
}

void* CudaBackend::allocate(size_t bytes) {
  ensureUsable();
  check(cudaSetDevice(ordinal_), "cudaSetDevice");
  // All buffers belong to the backend's stream (see caching_allocator.h, "Stream rule").
  return allocator_->allocate(bytes, stream_);
}

void CudaBackend::release(void* ptr) noexcept {
  if (!ptr) return;
  if (!lost_) cudaSetDevice(ordinal_);
  allocator_->release(ptr, lost_);  // a lost context has already dropped its memory
}

std::unique_ptr<PlanRuntime> CudaBackend::createPlanRuntime(size_t streams, size_t events,
                                                            size_t scalars) {
  ensureUsable();
  return std::make_unique<CudaPlanRuntime>(*this, streams, events, scalars);
}

std::vector<std::pair<std::string, double>> CudaBackend::allocatorStats() const {
  const AllocatorStats st = allocator_->stats();
  const StreamScratchStats scratch = streamScratchStats();
  return {{"allocatedBytes", static_cast<double>(st.allocatedBytes)},
          {"cachedBytes", static_cast<double>(st.cachedBytes)},
          {"peakAllocatedBytes", static_cast<double>(st.peakAllocatedBytes)},
          {"reservedBytes", static_cast<double>(st.reservedBytes)},
          {"cudaMallocCount", static_cast<double>(st.cudaMallocCount)},
          {"cudaFreeCount", static_cast<double>(st.cudaFreeCount)},
          {"cacheHits", static_cast<double>(st.cacheHits)},
          {"cacheFlushes", static_cast<double>(st.cacheFlushes)},
          {"liveBlocks", static_cast<double>(st.liveBlocks)},
          {"caching", allocator_->caching() ? 1.0 : 0.0},
          // Kernel scratch (stream_scratch.h), process-wide: its cudaMallocs count too.
          {"scratchBytes", static_cast<double>(scratch.bytes)},
          {"scratchMallocCount", static_cast<double>(scratch.mallocs)}};
}

void CudaBackend::upload(void* deviceDst, const void* hostSrc, size_t bytes) {
  ensureUsable();
  check(cudaSetDevice(ordinal_), "cudaSetDevice");
  check(cudaMemcpyAsync(deviceDst, hostSrc, bytes, cudaMemcpyHostToDevice, stream_), "upload");
  check(cudaStreamSynchronize(stream_), "upload");
}

void CudaBackend::download(void* hostDst, const void* deviceSrc, size_t bytes) {
  ensureUsable();
  check(cudaSetDevice(ordinal_), "cudaSetDevice");
  check(cudaMemcpyAsync(hostDst, deviceSrc, bytes, cudaMemcpyDeviceToHost, stream_), "download");
  check(cudaStreamSynchronize(stream_), "download");
}

void CudaBackend::synchronize() {
  ensureUsable();
  check(cudaStreamSynchronize(stream_), "synchronize");
}

}  // namespace vit::cuda
