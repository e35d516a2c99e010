// reduce_scatter (lib/kernels/reduce_scatter.ts ReduceScatterArgs): summed by the device's
// communicator for the axis in axis rank order, one rounding (native/comm/buffer_ops.h).
#include "comm/device_comms.h"
#include "kernels.h"

namespace vit::cpu {

void reduceScatter(Stream stream, const ReduceScatterArgs& a) {
  comm::Communicator& c = comm::communicatorFor(stream, a.axis, a.ranks, "reduce_scatter");
  c.reduceScatter(a.x, a.y, a.count, a.dtype, stream);
}

}  // namespace vit::cpu
