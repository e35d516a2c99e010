// Every kernel launch is followed by this check, so a bad launch configuration is reported at the
// launch that caused it rather than at some later synchronisation.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/status.h"
#include "cuda/cuda_backend.h"

namespace vit::cuda {

inline void checkLaunch(const char* kernel) {
  cudaError_t st = cudaGetLastError();
  if (st == cudaSuccess) return;
  std::string detail = std::string("launch of ") + kernel + " failed: " + cudaGetErrorName(st) +
                       " (" + cudaGetErrorString(st) + ")";
  throw Error(isStickyError(st) ? ErrorCode::DeviceLost : ErrorCode::CudaError, detail,
              "cudaSuccess", cudaGetErrorName(st));
}

}  // namespace vit::cuda
