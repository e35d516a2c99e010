// reduce_scatter (lib/kernels/reduce_scatter.ts ReduceScatterArgs) on CUDA: a device copy for an
// axis of one device (a sum of one term), else the mesh's communicator (NCCL) on this stream
// (cuda/collective_comm.h).
#include "cuda/collective_comm.h"
#include "kernels.h"

namespace vit::cuda {

void reduceScatter(Stream stream, const ReduceScatterArgs& a) {
  if (axisOfOne(stream, a.axis, a.ranks, "reduce_scatter")) {
    copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "reduce_scatter");
    return;
  }
  meshCommunicator(stream, a.axis, a.ranks, "reduce_scatter").reduceScatter(a.x, a.y, a.count, a.dtype, stream);
}

}  // namespace vit::cuda
