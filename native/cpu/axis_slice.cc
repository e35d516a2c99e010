// axis_slice (lib/kernels/axis_slice.ts AxisSliceArgs): this device's block of each run, by its
// rank on the axis (from its communicator; 0 outside a mesh). A strided copy, no communication.
#include "comm/device_comms.h"
#include "kernels.h"

namespace vit::cpu {

void axisSlice(Stream stream, const AxisSliceArgs& a) {
  const comm::Communicator& c = comm::communicatorFor(stream, a.axis, a.ranks, "axis_slice");
  const int64_t size = static_cast<int64_t>(dtypeSize(a.dtype));
  StridedCopyArgs copy;
  copy.dtype = a.dtype;
  copy.batch = a.batch;
  copy.cols = a.cols;
  copy.xStride = a.xStride;
  copy.yStride = a.yStride;
  copy.x = static_cast<const char*>(a.x) + static_cast<int64_t>(c.rank()) * a.cols * size;
  copy.y = a.y;
  stridedCopy(stream, copy);
}

}  // namespace vit::cpu
