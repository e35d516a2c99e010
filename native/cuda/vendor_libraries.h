// cuBLASLt and NCCL, opened once per process from candidate paths that lib/runtime computes
// (VIT22B_CUDA_LIBS, LD_LIBRARY_PATH, CUDA_HOME, system folders, Python's nvidia-* wheels).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/cublaslt_api.h"
#include "cuda/dynamic_library.h"
#include "cuda/nccl_api.h"

namespace vit::cuda {

struct VendorLoad {
  bool found = false;
  std::string path;
  long version = 0;            // as the library reports it
  std::string versionString;   // "13.1.0"
  std::vector<LoadAttempt> attempts;
};

struct CublasLt {
  std::unique_ptr<DynamicLibrary> lib;
  PfnCublasLtGetVersion getVersion = nullptr;
  PfnCublasLtCreate create = nullptr;
  PfnCublasLtDestroy destroy = nullptr;
  PfnCublasLtGetStatusString statusString = nullptr;
  // The matmul API (native/cuda/gemm.cu). Resolved when the library loads but not required for the
  // load to succeed (a library that has cublasLtMatmul has all of these in every cuBLASLt release);
  // gemm checks matmulReady() and names what is missing with ERR_CUDA_UNAVAILABLE.
  PfnCublasLtMatmulDescCreate matmulDescCreate = nullptr;
  PfnCublasLtMatmulDescDestroy matmulDescDestroy = nullptr;
  PfnCublasLtMatmulDescSetAttribute matmulDescSetAttribute = nullptr;
  PfnCublasLtMatrixLayoutCreate matrixLayoutCreate = nullptr;
  PfnCublasLtMatrixLayoutDestroy matrixLayoutDestroy = nullptr;
  PfnCublasLtMatrixLayoutSetAttribute matrixLayoutSetAttribute = nullptr;
  PfnCublasLtMatmulPreferenceCreate matmulPreferenceCreate = nullptr;
  PfnCublasLtMatmulPreferenceDestroy matmulPreferenceDestroy = nullptr;
  PfnCublasLtMatmulPreferenceSetAttribute matmulPreferenceSetAttribute = nullptr;
  PfnCublasLtMatmulAlgoGetHeuristic matmulAlgoGetHeuristic = nullptr;
  PfnCublasLtMatmul matmul = nullptr;
  // Names of the matmul functions above that the library lacks ("" when it has them all).
  std::string missingMatmulSymbols;
  bool matmulReady() const { return missingMatmulSymbols.empty(); }
};

struct Nccl {
  std::unique_ptr<DynamicLibrary> lib;
  int version = 0;  // ncclGetVersion's code: 22703 for 2.27.3
  PfnNcclGetVersion getVersion = nullptr;
  PfnNcclGetErrorString errorString = nullptr;
  // What the `nccl` communicator calls (native/comm/nccl_communicator.*). Resolved when the library
  // loads but not required for the load (info reports any NCCL it finds, old or not);
  // communicatorReady() says whether this one can run it, and why not.
  PfnNcclGetLastError lastError = nullptr;  // optional: only improves messages
  PfnNcclGetUniqueId getUniqueId = nullptr;
  PfnNcclCommInitRankConfig commInitRankConfig = nullptr;
  PfnNcclCommSplit commSplit = nullptr;
  PfnNcclCommGetAsyncError commGetAsyncError = nullptr;
  PfnNcclCommFinalize commFinalize = nullptr;
  PfnNcclCommDestroy commDestroy = nullptr;
  PfnNcclCommAbort commAbort = nullptr;
  PfnNcclAllGather allGather = nullptr;
  PfnNcclReduceScatter reduceScatter = nullptr;
  PfnNcclAllReduce allReduce = nullptr;
  PfnNcclSend send = nullptr;
  PfnNcclRecv recv = nullptr;
  PfnNcclGroupStart groupStart = nullptr;
  PfnNcclGroupEnd groupEnd = nullptr;
  // Names of the required functions above that the library lacks ("" when it has them all).
  std::string missingSymbols;
  // "" when this library can run the nccl communicator, else why not (too old, symbols missing).
  std::string communicatorUnsupported() const;
};

// Each loads at most once: the first success is kept for the life of the process and later calls
// report it; after a failure, a later call may try new candidates.
VendorLoad loadCublasLt(const std::vector<std::string>& candidates);
VendorLoad loadNccl(const std::vector<std::string>& candidates);

// nullptr until loadCublasLt has succeeded.
const CublasLt* cublasLt();
const Nccl* nccl();

}  // namespace vit::cuda
