// The collective kernels on CUDA (all_gather, reduce_scatter, all_reduce, collective_permute,
// axis_slice): only ranks == 1 is implemented (a device copy, or a scaled copy). CUDA devices have
// no mesh yet: GPU virtual-device collectives (several ranks on one GPU) and NCCL (one process per
// GPU) are later work behind native/comm/communicator.h, so ranks > 1 is ERR_NOT_IMPLEMENTED.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

inline void requireSingleRank(int64_t ranks, MeshAxis axis, const char* kernel) {
  if (ranks == 1) return;
  throw Error(ErrorCode::NotImplemented,
              std::string(kernel) + " with ranks " + std::to_string(ranks) + " over mesh axis '" +
                  (axis == MeshAxis::Data ? "data" : "model") +
                  "': GPU virtual-device collectives are not implemented yet (CUDA runs ranks 1 "
                  "only; meshes run on the CPU)",
              "ranks 1 on a CUDA device", "ranks " + std::to_string(ranks));
}

inline void copyOnDevice(void* dst, const void* src, int64_t count, DType dtype, Stream stream,
                         const char* kernel) {
  if (count <= 0 || dst == src) return;
  checkCuda(cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * dtypeSize(dtype),
                            cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream.handle)),
            kernel);
}

}  // namespace vit::cuda
