// What the CUDA collective kernels (all_gather, reduce_scatter, all_reduce, collective_permute,
// axis_slice) share. An axis of one device (ranks == 1) is a device copy (or a scaled one) on the
// stream, with no communicator at all; an axis of several devices goes to the device's mesh
// communicator (Stream::comm, found by comm::communicatorFor, which checks `ranks` against the axis):
// on CUDA that is the `nccl` backend, one GPU per process (native/comm/nccl_communicator.h), which
// enqueues on the same stream. GPU virtual devices (several ranks on one GPU in one process) have no
// backend: a CUDA device outside a mesh asked for ranks > 1 gets communicatorFor's
// ERR_INVALID_ARGUMENT.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "comm/device_comms.h"
#include "core/status.h"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

inline comm::Communicator& meshCommunicator(Stream stream, MeshAxis axis, int64_t ranks,
                                            const char* kernel) {
  return comm::communicatorFor(stream, axis, ranks, kernel);
}

// True for an axis of one device (the kernel is then a copy on the device). On a device of a mesh
// `ranks` is checked against the axis first, as on the CPU: a plan made for another mesh is refused
// (ERR_INVALID_ARGUMENT naming both sizes), not run as copies.
inline bool axisOfOne(Stream stream, MeshAxis axis, int64_t ranks, const char* kernel) {
  if (ranks == 1 && stream.comm) comm::communicatorFor(stream, axis, ranks, kernel);
  return ranks == 1;
}

inline void copyOnDevice(void* dst, const void* src, int64_t count, DType dtype, Stream stream,
                         const char* kernel) {
  if (count <= 0 || dst == src) return;
  checkCuda(cudaMemcpyAsync(dst, src, static_cast<size_t>(count) * dtypeSize(dtype),
                            cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream.handle)),
            kernel);
}

}  // namespace vit::cuda
