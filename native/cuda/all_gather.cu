// all_gather (lib/kernels/all_gather.ts AllGatherArgs) on CUDA: a device copy for an axis of one
// device, else the mesh's communicator (NCCL) on this stream (cuda/collective_comm.h).
#include "cuda/collective_comm.h"
#include "kernels.h"

namespace vit::cuda {

void allGather(Stream stream, const AllGatherArgs& a) {
  if (axisOfOne(stream, a.axis, a.ranks, "all_gather")) {
    copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "all_gather");
    return;
  }
  meshCommunicator(stream, a.axis, a.ranks, "all_gather").allGather(a.x, a.y, a.count, a.dtype, stream);
}

}  // namespace vit::cuda
