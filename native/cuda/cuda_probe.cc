#include "cuda/cuda_probe.h"

#include <cuda_runtime_api.h>

namespace vit::cuda {

namespace {

std::string versionString(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

CudaProbe probeCuda() {
  CudaProbe p;
  cudaRuntimeGetVersion(&p.runtimeVersion);
  // With the runtime linked statically, a missing libcuda.so.1 shows up here as version 0.
  if (cudaDriverGetVersion(&p.driverVersion) != cudaSuccess || p.driverVersion == 0) {
    p.driverVersion = 0;
    p.reasonCode = "no-driver";
    p.reason = "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
    return p;
  }
  int count = 0;
  cudaError_t st = cudaGetDeviceCount(&count);
  if (st == cudaErrorInsufficientDriver) {
    p.reasonCode = "driver-too-old";
    p.reason = "the NVIDIA driver supports CUDA " + versionString(p.driverVersion) +
               " but vit22b's CUDA addon needs CUDA " + versionString(p.runtimeVersion) +
               " or newer: update the driver";
    cudaGetLastError();
    return p;
  }
  if (st == cudaErrorNoDevice || (st == cudaSuccess && count == 0)) {
    p.reasonCode = "no-device";
    p.reason = "the NVIDIA driver " + versionString(p.driverVersion) +
               " is installed but reports no CUDA device";
    cudaGetLastError();
    return p;
  }
  if (st != cudaSuccess) {
    p.reasonCode = "error";
    p.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(st) + " (" +
               cudaGetErrorString(st) + ")";
    cudaGetLastError();
    return p;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.totalMemory = prop.totalGlobalMem;
    d.smCount = prop.multiProcessorCount;
    d.major = prop.major;
    d.minor = prop.minor;
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, i) == cudaSuccess) d.pciBusId = bus;
    else cudaGetLastError();
    p.devices.push_back(d);
  }
  bool anySupported = false;
  for (const auto& d : p.devices) anySupported = anySupported || d.major >= kMinComputeMajor;
  if (!anySupported) {
    p.reasonCode = "unsupported-device";
    p.reason = "no device has compute capability " + std::to_string(kMinComputeMajor) +
               ".0 or newer (vit22b's kernels need bf16 tensor cores)";
    return p;
  }
  p.usable = true;
  return p;
}

}  // namespace vit::cuda
