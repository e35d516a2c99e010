// collective_permute (lib/kernels/collective_permute.ts CollectivePermuteArgs) on CUDA: ranks 1 only, a device copy (cuda/single_rank.h says
// why ranks > 1 is ERR_NOT_IMPLEMENTED).
#include "cuda/single_rank.h"
#include "kernels.h"

namespace vit::cuda {

void collectivePermute(Stream stream, const CollectivePermuteArgs& a) {
  requireSingleRank(a.ranks, a.axis, "collective_permute");
  copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "collective_permute");
}

}  // namespace vit::cuda
