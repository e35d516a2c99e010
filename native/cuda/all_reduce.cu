// all_reduce (lib/kernels/all_reduce.ts AllReduceArgs) on CUDA. An axis of one device: y = scale *
// x rounded once (axpby with beta 0, which never reads y; in place allowed). Several devices: the
// mesh's communicator (NCCL's sum, then the same scaling on the same stream; cuda/collective_comm.h).
// NCCL sums in its own order, so a GPU mesh matches the CPU mesh within tolerance, not bit for bit.
#include "cuda/collective_comm.h"
#include "kernels.h"

namespace vit::cuda {

void allReduce(Stream stream, const AllReduceArgs& a) {
  if (!axisOfOne(stream, a.axis, a.ranks, "all_reduce")) {
    meshCommunicator(stream, a.axis, a.ranks, "all_reduce").allReduce(a.x, a.y, a.count, a.dtype, a.scale, stream);
    return;
  }
  if (a.scale == 1.0f) {
    copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "all_reduce");
    return;
  }
  AxpbyArgs s;
  s.dtype = a.dtype;
  s.n = a.count;
  s.alpha = a.scale;
  s.x = a.x;
  s.beta = 0.0f;
  s.y = a.y;
  axpby(stream, s);
}

}  // namespace vit::cuda
