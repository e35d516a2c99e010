// all_reduce (lib/kernels/all_reduce.ts AllReduceArgs): summed by the device's communicator for the
// axis in axis rank order, scaled once, one rounding; in place allowed (native/comm).
#include "comm/device_comms.h"
#include "kernels.h"

namespace vit::cpu {

void allReduce(Stream stream, const AllReduceArgs& a) {
  comm::Communicator& c = comm::communicatorFor(stream, a.axis, a.ranks, "all_reduce");
  c.allReduce(a.x, a.y, a.count, a.dtype, a.scale, stream);
}

}  // namespace vit::cpu
