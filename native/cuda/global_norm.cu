// out = sqrt(sum of squares of every buffer) (lib/kernels/global_norm.ts GlobalNormArgs): the global gradient
// norm of many buffers of mixed sizes and dtypes, by block_sum's deterministic two-pass sum. The
// norm stays on the device (clip_scale reads it there), so a step needs no round trip to the host.
#include <cuda_runtime.h>

#include <string>

#include "core/status.h"
#include "cuda/block_sum.h"
#include "kernels.h"

namespace vit::cuda {

void globalNorm(Stream stream, const GlobalNormArgs& a) {
  for (int64_t i = 0; i < a.count; ++i) {
    if (a.dtypes[i] != DType::F32 && a.dtypes[i] != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch,
                  "global_norm buffer " + std::to_string(i) + " must be f32 or bf16", "f32 or bf16",
                  dtypeName(a.dtypes[i]));
    }
  }
  orderedDeviceSum(static_cast<cudaStream_t>(stream.handle), a.count, a.dtypes, a.sizes, a.buffers,
                   true, SumFinish::Sqrt, a.out);
}

}  // namespace vit::cuda
