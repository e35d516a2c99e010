// The size checks of attention_fwd / attention_bwd (kernels.h AttentionFwdArgs, AttentionBwdArgs),
// one copy for the CPU and CUDA backends (CUDA adds its head-dim and grid limits).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace vit::attention_args {

inline void checkSizes(int64_t batch, int64_t heads, int64_t tq, int64_t tk, int64_t headDim,
                       const char* kernel) {
  if (batch < 0 || heads < 0 || tq < 0 || tk < 0 || headDim < 1) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " sizes must be non-negative",
                "batch, heads, tq, tk >= 0 and headDim >= 1", "a negative size");
  }
  if (tk == 0 && batch * heads * tq > 0) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(kernel) + " needs at least one key: softmax over nothing is undefined",
                "tk >= 1", "0");
  }
}

}  // namespace vit::attention_args
