// out = sum(x) or sum(x^2) over one device buffer (lib/kernels/reduce_sum.ts ReduceSumArgs): the one-buffer
// case of block_sum's deterministic two-pass sum. out stays on the device.
#include <cuda_runtime.h>

#include "core/status.h"
#include "cuda/block_sum.h"
#include "kernels.h"

namespace vit::cuda {

void reduceSum(Stream stream, const ReduceSumArgs& a) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "reduce_sum supports f32 and bf16", "f32 or bf16",
                dtypeName(a.dtype));
  }
  const void* buffers[1] = {a.x};
  orderedDeviceSum(static_cast<cudaStream_t>(stream.handle), 1, &a.dtype, &a.n, buffers, a.squares,
                   SumFinish::Plain, a.out);
}

}  // namespace vit::cuda
