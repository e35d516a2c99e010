// all_gather (lib/kernels/all_gather.ts AllGatherArgs) on CUDA: ranks 1 only, a device copy (cuda/single_rank.h says
// why ranks > 1 is ERR_NOT_IMPLEMENTED).
#include "cuda/single_rank.h"
#include "kernels.h"

namespace vit::cuda {

void allGather(Stream stream, const AllGatherArgs& a) {
  requireSingleRank(a.ranks, a.axis, "all_gather");
  copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "all_gather");
}

}  // namespace vit::cuda
