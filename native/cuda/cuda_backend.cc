#include "cuda/cuda_backend.h"

#include "core/status.h"
#include "cuda/cublaslt_context.h"
#include "cuda/cuda_probe.h"

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
}

CudaBackend::~CudaBackend() {
  if (stream_ && !lost_) {
    cudaSetDevice(ordinal_);
    cudaStreamSynchronize(stream_);
    releaseCublasLtStream(stream_);  // the GEMM workspace of this stream (cublaslt_context.h)
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
  void* ptr = nullptr;
  cudaError_t st = cudaMalloc(&ptr, bytes == 0 ? 1 : bytes);
  if (st == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t freeBytes = 0, totalBytes = 0;
    cudaMemGetInfo(&freeBytes, &totalBytes);
    throw Error(ErrorCode::DeviceOom,
                "out of memory on " + description_ + ": requested " + std::to_string(bytes) +
                    " bytes, " + std::to_string(freeBytes) + " free of " +
                    std::to_string(totalBytes),
                "at most " + std::to_string(freeBytes) + " bytes",
                std::to_string(bytes) + " bytes");
  }
  check(st, "cudaMalloc");
  return ptr;
}

void CudaBackend::release(void* ptr) noexcept {
  if (!ptr || lost_) return;  // a lost context has already dropped its memory
  cudaSetDevice(ordinal_);
  cudaFree(ptr);
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
