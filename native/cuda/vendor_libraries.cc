#include "cuda/vendor_libraries.h"

namespace vit::cuda {

namespace {

std::mutex gMutex;
CublasLt gCublasLt;
Nccl gNccl;
VendorLoad gCublasLtLoad;
VendorLoad gNcclLoad;

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
  auto lib = openFirst(candidates, "cublasLtMatmul", load.attempts);
  if (lib) {
    gCublasLt.getVersion = lib->function<PfnCublasLtGetVersion>("cublasLtGetVersion");
    gCublasLt.create = lib->function<PfnCublasLtCreate>("cublasLtCreate");
    gCublasLt.destroy = lib->function<PfnCublasLtDestroy>("cublasLtDestroy");
    gCublasLt.statusString = lib->function<PfnCublasLtGetStatusString>("cublasLtGetStatusString");
    if (gCublasLt.getVersion && gCublasLt.create && gCublasLt.destroy) {
      load.found = true;
      load.path = lib->path();
      load.version = static_cast<long>(gCublasLt.getVersion());
      load.versionString = formatVersion(load.version);
      gCublasLt.lib = std::move(lib);
    } else {
      load.attempts.push_back({lib->path(), "loaded, but lacks cublasLtGetVersion/Create/Destroy"});
    }
  }
  gCublasLtLoad = load;
  return load;
}

VendorLoad loadNccl(const std::vector<std::string>& candidates) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gNcclLoad.found) return gNcclLoad;
  VendorLoad load;
  auto lib = openFirst(candidates, "ncclGetVersion", load.attempts);
  if (lib) {
    gNccl.getVersion = lib->function<PfnNcclGetVersion>("ncclGetVersion");
    gNccl.errorString = lib->function<PfnNcclGetErrorString>("ncclGetErrorString");
    int v = 0;
    if (gNccl.getVersion && gNccl.getVersion(&v) == kNcclSuccess) {
      load.found = true;
      load.path = lib->path();
      load.version = v;
      load.versionString = formatVersion(v);
      gNccl.lib = std::move(lib);
    } else {
      load.attempts.push_back({lib->path(), "loaded, but ncclGetVersion failed"});
    }
  }
  gNcclLoad = load;
  return load;
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
