// all_gather (lib/kernels/all_gather.ts AllGatherArgs): the device's communicator for the axis does
// the work (native/comm): a copy outside a mesh, the local rendezvous between virtual devices.
#include "comm/device_comms.h"
#include "kernels.h"

namespace vit::cpu {

void allGather(Stream stream, const AllGatherArgs& a) {
  comm::Communicator& c = comm::communicatorFor(stream, a.axis, a.ranks, "all_gather");
  c.allGather(a.x, a.y, a.count, a.dtype, stream);
}

}  // namespace vit::cpu
