// axis_slice (lib/kernels/axis_slice.ts AxisSliceArgs) on CUDA: this device's block of each run, by
// its rank on the axis (0 for an axis of one device, else its mesh communicator's rank;
// cuda/collective_comm.h). A strided copy, no communication.
#include "cuda/collective_comm.h"
#include "kernels.h"

namespace vit::cuda {

void axisSlice(Stream stream, const AxisSliceArgs& a) {
  const int64_t rank = axisOfOne(stream, a.axis, a.ranks, "axis_slice") ? 0 : meshCommunicator(stream, a.axis, a.ranks, "axis_slice").rank();
  StridedCopyArgs copy;
  copy.dtype = a.dtype;
  copy.batch = a.batch;
  copy.cols = a.cols;
  copy.xStride = a.xStride;
  copy.yStride = a.yStride;
  copy.x = static_cast<const char*>(a.x) + rank * a.cols * static_cast<int64_t>(dtypeSize(a.dtype));
  copy.y = a.y;
  stridedCopy(stream, copy);
}

}  // namespace vit::cuda
