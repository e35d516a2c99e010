// axis_slice (lib/kernels/axis_slice.ts AxisSliceArgs) on CUDA: ranks 1 only (axis rank 0), so a
// strided copy of each run's first block. cuda/single_rank.h says why ranks > 1 is
// ERR_NOT_IMPLEMENTED.
#include "cuda/single_rank.h"
#include "kernels.h"

namespace vit::cuda {

void axisSlice(Stream stream, const AxisSliceArgs& a) {
  requireSingleRank(a.ranks, a.axis, "axis_slice");
  StridedCopyArgs copy;
  copy.dtype = a.dtype;
  copy.batch = a.batch;
  copy.cols = a.cols;
  copy.xStride = a.xStride;
  copy.yStride = a.yStride;
  copy.x = a.x;
  copy.y = a.y;
  stridedCopy(stream, copy);
}

}  // namespace vit::cuda
