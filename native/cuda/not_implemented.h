// Kernels of the table that have a CPU implementation but no CUDA one yet: the CUDA entry throws
// ERR_NOT_IMPLEMENTED naming the kernel, so a call fails loudly instead of running nothing.
// Each such kernel still has its own native/cuda/<op>.cu, which the CUDA backend work fills in.
#pragma once

#include <string>

#include "core/status.h"

namespace vit::cuda {

[[noreturn]] inline void notYetOnCuda(const char* kernel) {
  throw Error(ErrorCode::NotImplemented,
              std::string(kernel) + " has no CUDA implementation yet (it runs on the CPU backend)",
              "a kernel implemented for CUDA", kernel);
}

}  // namespace vit::cuda
