// all_reduce (lib/kernels/all_reduce.ts AllReduceArgs) on CUDA: ranks 1 only, y = scale * x rounded
// once (axpby with beta 0, which never reads y; in place allowed). cuda/single_rank.h says why
// ranks > 1 is ERR_NOT_IMPLEMENTED.
#include "cuda/single_rank.h"
#include "kernels.h"

namespace vit::cuda {

void allReduce(Stream stream, const AllReduceArgs& a) {
  requireSingleRank(a.ranks, a.axis, "all_reduce");
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
