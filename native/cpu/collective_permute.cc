// collective_permute (lib/kernels/collective_permute.ts CollectivePermuteArgs): one ring step on
// the device's communicator for the axis (native/comm).
#include "comm/device_comms.h"
#include "kernels.h"

namespace vit::cpu {

void collectivePermute(Stream stream, const CollectivePermuteArgs& a) {
  comm::Communicator& c = comm::communicatorFor(stream, a.axis, a.ranks, "collective_permute");
  c.permute(a.x, a.y, a.count, a.dtype, a.shift, stream);
}

}  // namespace vit::cpu
