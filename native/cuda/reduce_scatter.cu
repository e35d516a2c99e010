// reduce_scatter (lib/kernels/reduce_scatter.ts ReduceScatterArgs) on CUDA: ranks 1 only, a device copy (cuda/single_rank.h says
// why ranks > 1 is ERR_NOT_IMPLEMENTED).
#include "cuda/single_rank.h"
#include "kernels.h"

namespace vit::cuda {

void reduceScatter(Stream stream, const ReduceScatterArgs& a) {
  requireSingleRank(a.ranks, a.axis, "reduce_scatter");
  copyOnDevice(a.y, a.x, a.count, a.dtype, stream, "reduce_scatter");
}

}  // namespace vit::cuda
