#include "cuda/vendor_libraries.h"

#include <type_traits>

namespace vit::cuda {

namespace {

std::mutex gMutex;
CublasLt gCublasLt;
Nccl gNccl;
VendorLoad gCublasLtLoad;
VendorLoad gNcclLoad;

// Resolves the optional matmul functions; records the ones that are absent.
void resolveMatmulApi(const DynamicLibrary& lib, CublasLt& api) {
  auto get = [&](auto& slot, const char* name) {
    slot = lib.function<std::remove_reference_t<decltype(slot)>>(name);
    if (slot) return;
    if (!api.missingMatmulSymbols.empty()) api.missingMatmulSymbols += ", ";
    api.missingMatmulSymbols += name;
  };
  get(api.matmulDescCreate, "cublasLtMatmulDescCreate");
  get(api.matmulDescDestroy, "cublasLtMatmulDescDestroy");
  get(api.matmulDescSetAttribute, "cublasLtMatmulDescSetAttribute");
  get(api.matrixLayoutCreate, "cublasLtMatrixLayoutCreate");
  get(api.matrixLayoutDestroy, "cublasLtMatrixLayoutDestroy");
  get(api.matrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute");
  get(api.matmulPreferenceCreate, "cublasLtMatmulPreferenceCreate");
  get(api.matmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy");
  get(api.matmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute");
  get(api.matmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic");
  get(api.matmul, "cublasLtMatmul");
}

void resolveNcclApi(const DynamicLibrary& lib, Nccl& api) {
  auto get = [&](auto& slot, const char* name) {
    slot = lib.function<std::remove_reference_t<decltype(slot)>>(name);
    if (slot) return;
    if (!api.missingSymbols.empty()) api.missingSymbols += ", ";
    api.missingSymbols += name;
  };
  api.lastError = lib.function<PfnNcclGetLastError>("ncclGetLastError");
  get(api.getUniqueId, "ncclGetUniqueId");
  get(api.commInitRankConfig, "ncclCommInitRankConfig");
  get(api.commSplit, "ncclCommSplit");
  get(api.commGetAsyncError, "ncclCommGetAsyncError");
  get(api.commFinalize, "ncclCommFinalize");
  get(api.commDestroy, "ncclCommDestroy");
  get(api.commAbort, "ncclCommAbort");
  get(api.allGather, "ncclAllGather");
  get(api.reduceScatter, "ncclReduceScatter");
  get(api.allReduce, "ncclAllReduce");
  get(api.send, "ncclSend");
  get(api.recv, "ncclRecv");
  get(api.groupStart, "ncclGroupStart");
  get(api.groupEnd, "ncclGroupEnd");
}

// cuBLASLt: major*10000 + minor*100 + patch. NCCL (2.9 and later): the same layout.
std::string formatVersion(long v) {
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." +
         std::to_string(v % 100);
}

}  // namespace

VendorLoad loadCublasLt(const std::vector<std::string>& candidates) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gCublasLtLoad.found) return gCublasLtLoad;
  VendorLoad load;
  // One candidate at a time: a file that loads but lacks part of the API must not stop the search.
  for (const std::string& candidate : candidates) {
    auto lib = openFirst({candidate}, "cublasLtMatmul", load.attempts);
    if (!lib) continue;
    CublasLt api;
    api.getVersion = lib->function<PfnCublasLtGetVersion>("cublasLtGetVersion");
    api.create = lib->function<PfnCublasLtCreate>("cublasLtCreate");
    api.destroy = lib->function<PfnCublasLtDestroy>("cublasLtDestroy");
    api.statusString = lib->function<PfnCublasLtGetStatusString>("cublasLtGetStatusString");
    if (!api.getVersion || !api.create || !api.destroy) {
      load.attempts.push_back({lib->path(), "loaded, but lacks cublasLtGetVersion/Create/Destroy"});
      continue;
    }
    resolveMatmulApi(*lib, api);
    load.found = true;
    load.path = lib->path();
    load.version = static_cast<long>(api.getVersion());
    load.versionString = formatVersion(load.version);
    api.lib = std::move(lib);
    gCublasLt = std::move(api);
    break;
  }
  gCublasLtLoad = load;
  return load;
}

VendorLoad loadNccl(const std::vector<std::string>& candidates) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gNcclLoad.found) return gNcclLoad;
  VendorLoad load;
  for (const std::string& candidate : candidates) {
    auto lib = openFirst({candidate}, "ncclGetVersion", load.attempts);
    if (!lib) continue;
    Nccl api;
    api.getVersion = lib->function<PfnNcclGetVersion>("ncclGetVersion");
    api.errorString = lib->function<PfnNcclGetErrorString>("ncclGetErrorString");
    int v = 0;
    if (!api.getVersion || api.getVersion(&v) != kNcclSuccess) {
      load.attempts.push_back({lib->path(), "loaded, but ncclGetVersion failed"});
      continue;
    }
    api.version = v;
    resolveNcclApi(*lib, api);
    load.found = true;
    load.path = lib->path();
    load.version = v;
    load.versionString = formatVersion(v);
    api.lib = std::move(lib);
    gNccl = std::move(api);
    break;
  }
  gNcclLoad = load;
  return load;
}

std::string Nccl::communicatorUnsupported() const {
  if (version < kNcclVersionFloor) {
    return "NCCL " + formatVersion(version) + " at " + (lib ? lib->path() : std::string("?")) +
           " is older than " + formatVersion(kNcclVersionFloor) +
           ", the oldest the nccl backend supports (it needs ncclCommSplit and non-blocking "
           "communicators)";
  }
  if (!missingSymbols.empty()) return "NCCL at " + lib->path() + " lacks " + missingSymbols;
  return "";
}

const CublasLt* cublasLt() {
  std::lock_guard<std::mutex> lock(gMutex);
  return gCublasLtLoad.found ? &gCublasLt : nullptr;
}

const Nccl* nccl() {
  std::lock_guard<std::mutex> lock(gMutex);
  return gNcclLoad.found ? &gNccl : nullptr;
}

}  // namespace vit::cuda
