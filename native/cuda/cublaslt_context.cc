#include "cuda/cublaslt_context.h"

#include <map>
#include <memory>
#include <utility>

#include "core/status.h"
#include "cuda/cuda_backend.h"

namespace vit::cuda {

namespace {

std::mutex gContextsMutex;

// Keyed by device ordinal. unique_ptr: a context's address (and its mutex) never moves.
std::map<int, std::unique_ptr<CublasLtDevice>>& contexts() {
  static auto* m = new std::map<int, std::unique_ptr<CublasLtDevice>>();  // never destroyed
  return *m;
}

struct Workspace {
  int ordinal;
  void* ptr;
  void* scratch = nullptr;
  size_t scratchBytes = 0;
};
std::map<cudaStream_t, Workspace>& workspaces() {
  static auto* m = new std::map<cudaStream_t, Workspace>();  // never destroyed
  return *m;
}

void checkCuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::string detail = std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                       cudaGetErrorString(status) + ")";
  if (isStickyError(status)) {
    throw Error(ErrorCode::DeviceLost, detail, "a usable device", cudaGetErrorName(status));
  }
  cudaGetLastError();  // a non-sticky error must not be reported again by the next launch check
  if (status == cudaErrorMemoryAllocation) {
    throw Error(ErrorCode::DeviceOom,
                detail + " (the " + std::to_string(kCublasLtWorkspaceBytes >> 20) +
                    " MiB cuBLASLt workspace)",
                "free device memory", cudaGetErrorName(status));
  }
  throw Error(ErrorCode::CudaError, detail, "cudaSuccess", cudaGetErrorName(status));
}

int currentDevice() {
  int ordinal = 0;
  checkCuda(cudaGetDevice(&ordinal), "cudaGetDevice");
  return ordinal;
}

// The record of `stream` on the current device, with its workspace; gContextsMutex held.
Workspace& streamRecord(cudaStream_t stream) {
  int ordinal = currentDevice();
  auto it = workspaces().find(stream);
  if (it != workspaces().end()) {
    if (it->second.ordinal == ordinal) return it->second;
    // A stream of another device under the same handle value: the old stream is gone (handles are
    // only reused after destruction), so its buffers are free to drop.
    cudaFree(it->second.ptr);
    if (it->second.scratch) cudaFree(it->second.scratch);
    workspaces().erase(it);
  }
  void* ptr = nullptr;
  checkCuda(cudaMalloc(&ptr, kCublasLtWorkspaceBytes), "cudaMalloc");
  Workspace& w = workspaces()[stream];
  w.ordinal = ordinal;
  w.ptr = ptr;
  return w;
}

}  // namespace

const CublasLt& requireCublasLt() {
  const CublasLt* lt = cublasLt();
  if (!lt) {
    throw Error(ErrorCode::CudaUnavailable,
                "cuBLASLt is not loaded, so the CUDA GEMM cannot run: set VIT22B_CUDA_LIBS to the "
                "folder holding libcublasLt.so (see `vit22b info`)",
                "cuBLASLt loaded", "cublaslt-missing");
  }
  if (!lt->matmulReady()) {
    throw Error(ErrorCode::CudaUnavailable,
                "the cuBLASLt at " + lt->lib->path() + " lacks part of the matmul API (" +
                    lt->missingMatmulSymbols + ")",
                "a complete cuBLASLt (CUDA 12 or 13)", "cublaslt-missing");
  }
  return *lt;
}

CublasLtDevice& cublasLtDevice() {
  const CublasLt& lt = requireCublasLt();
  int ordinal = currentDevice();
  std::lock_guard<std::mutex> lock(gContextsMutex);
  auto& slot = contexts()[ordinal];
  if (!slot) {
    auto ctx = std::make_unique<CublasLtDevice>();
    ctx->ordinal = ordinal;
    checkCublas(lt.create(&ctx->handle), "cublasLtCreate");
    slot = std::move(ctx);
  }
  return *slot;
}

void* cublasLtWorkspace(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(gContextsMutex);
  return streamRecord(stream).ptr;
}

void* cublasLtScratch(cudaStream_t stream, size_t bytes) {
  std::lock_guard<std::mutex> lock(gContextsMutex);
  Workspace& w = streamRecord(stream);
  if (w.scratchBytes >= bytes) return w.scratch;
  if (w.scratch) {
    checkCuda(cudaFree(w.scratch), "cudaFree");
    w.scratch = nullptr;
    w.scratchBytes = 0;
  }
  checkCuda(cudaMalloc(&w.scratch, bytes), "cudaMalloc");
  w.scratchBytes = bytes;
  return w.scratch;
}

void releaseCublasLtStream(cudaStream_t stream) noexcept {
  std::lock_guard<std::mutex> lock(gContextsMutex);
  auto it = workspaces().find(stream);
  if (it == workspaces().end()) return;
  int previous = -1;
  cudaGetDevice(&previous);
  cudaSetDevice(it->second.ordinal);
  cudaFree(it->second.ptr);
  if (it->second.scratch) cudaFree(it->second.scratch);
  if (previous >= 0) cudaSetDevice(previous);
  cudaGetLastError();  // nothing to report from a destructor
  workspaces().erase(it);
}

std::string cublasStatusName(cublasStatus_t status) {
  for (const CublasStatusName& s : kCublasStatusNames) {
    if (s.value == status) return s.name;
  }
  return "cublasStatus_t " + std::to_string(status);
}

void checkCublas(cublasStatus_t status, const char* what) {
  if (status == kCublasSuccess) return;
  std::string name = cublasStatusName(status);
  std::string detail = std::string(what) + " failed: " + name;
  const CublasLt* lt = cublasLt();
  if (lt && lt->statusString) {
    const char* sentence = lt->statusString(status);
    if (sentence && *sentence) detail += std::string(" (") + sentence + ")";
  }
  throw Error(ErrorCode::CudaError, detail, "CUBLAS_STATUS_SUCCESS", name);
}

}  // namespace vit::cuda
