// The host-side checks of topk_accuracy (kernels.h TopkAccuracyArgs) that the CPU and CUDA backends
// share: logits type, k, and counts that fit i32. (Labels: the CPU checks each; CUDA, where that
// would cost a sync, requires C >= 1 and counts a bad label as a miss; see kernels.h.)
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/xent_args.h"
#include "kernels.h"

namespace vit::topk_args {

inline void check(const TopkAccuracyArgs& a) {
  xent_args::requireLogits(a.dtype, "topk_accuracy");
  if (a.k < 1) throw Error(ErrorCode::InvalidArgument, "topk_accuracy k must be at least 1", "k >= 1", std::to_string(a.k));
  if (a.n > INT32_MAX) {
    throw Error(ErrorCode::InvalidArgument, "topk_accuracy counts are i32", "n <= 2^31 - 1", std::to_string(a.n));
  }
}

}  // namespace vit::topk_args
