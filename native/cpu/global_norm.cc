// out = sqrt(sum of squares of every buffer): the global gradient norm for clipping, in one call
// however many parameter buffers there are. Blocks of all buffers share one parallel pass, so a
// model of many small tensors still keeps every thread busy.
#include <cmath>
#include <string>

#include "core/status.h"
#include "cpu/block_sum.h"
#include "kernels.h"

namespace vit::cpu {

void globalNorm(Stream stream, const GlobalNormArgs& a) {
  for (int64_t i = 0; i < a.count; ++i) {
    if (a.dtypes[i] != DType::F32 && a.dtypes[i] != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch,
                  "global_norm buffer " + std::to_string(i) + " must be f32 or bf16", "f32 or bf16",
                  dtypeName(a.dtypes[i]));
    }
  }
  SumSource src{a.count, a.dtypes, a.sizes, a.buffers, true};
  *a.out = static_cast<float>(std::sqrt(orderedTotal(src, stream.handle)));
}

}  // namespace vit::cpu
