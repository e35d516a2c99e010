// What CUDA can do in this process: driver, runtime, devices, and whether vit22b can use them.
// Never throws: `vit22b info` must describe a machine without a GPU, not crash on it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vit::cuda {

struct CudaDevice {
  int index = 0;
  std::string name;
  size_t totalMemory = 0;  // bytes
  int smCount = 0;
  int major = 0, minor = 0;  // compute capability
  std::string pciBusId;
};

struct CudaProbe {
  bool usable = false;
  // '' when usable, else one of: 'no-driver', 'driver-too-old', 'no-device',
  // 'unsupported-device', 'error'
  std::string reasonCode;
  std::string reason;     // a sentence for people
  int driverVersion = 0;  // e.g. 13000 for 13.0; 0 when no driver is installed
  int runtimeVersion = 0; // the statically linked CUDA runtime
  std::vector<CudaDevice> devices;
};

// Oldest compute capability our kernels are built for (sm_80: bf16 tensor cores).
constexpr int kMinComputeMajor = 8;

CudaProbe probeCuda();

}  // namespace vit::cuda
