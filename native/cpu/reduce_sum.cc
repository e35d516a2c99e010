// out = sum(x) or sum(x^2) over one buffer: the one-buffer case of block_sum's ordered total.
#include "core/status.h"
#include "cpu/block_sum.h"
#include "kernels.h"

namespace vit::cpu {

void reduceSum(Stream stream, const ReduceSumArgs& a) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "reduce_sum supports f32 and bf16", "f32 or bf16",
                dtypeName(a.dtype));
  }
  const void* buffers[1] = {a.x};
  SumSource src{1, &a.dtype, &a.n, buffers, a.squares};
  *a.out = static_cast<float>(orderedTotal(src, stream.handle));
}

}  // namespace vit::cpu
