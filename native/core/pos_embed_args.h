// What the CPU and CUDA position-embedding kernels (PosEmbedAddArgs, PosEmbedBwdArgs) share on the
// host: the dispatch over the storage types of x and pos. The checks are the launcher's, generated
// from lib/kernels/pos_embed_add.ts and pos_embed_bwd.ts.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::pos_embed_args {

// Calls run(X{}, P{}) with X, P the storage types of x and pos (float, or uint16_t for bf16).
template <typename Run>
void dispatch(DType x, DType pos, const Run& run) {
  if (x == DType::F32) {
    if (pos == DType::F32) return run(float{}, float{});
    return run(float{}, uint16_t{});
  }
  if (pos == DType::F32) return run(uint16_t{}, float{});
  run(uint16_t{}, uint16_t{});
}

}  // namespace vit::pos_embed_args
