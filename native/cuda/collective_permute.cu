// collective_permute (lib/kernels/collective_permute.ts CollectivePermuteArgs) on CUDA: a device
// copy for an axis of one device, else the mesh's communicator (NCCL: a grouped send + receive) on
// this stream (cuda/collective_comm.h).
#include "cuda/collective_comm.h"
#include "kernels.h"

namespace vit::cuda {

void collectivePermute(Stream stream, const CollectivePermuteArgs& a) {
  if (axisOfOne(stream, a.axis, a.ranks, "collective_permute")) {
    copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "collective_permute");
    return;
  }
  meshCommunicator(stream, a.axis, a.ranks, "collective_permute")
      .permute(a.x, a.y, a.count, a.dtype, a.shift, stream);
}

}  // namespace vit::cuda
