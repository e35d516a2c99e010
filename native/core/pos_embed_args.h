// What the CPU and CUDA position-embedding kernels (kernels.h PosEmbedAddArgs, PosEmbedBwdArgs)
// share on the host: the argument checks and the dispatch over the storage types of x and pos.
// Operand sizes are the launcher's business (native/addon/pos_embed_binding.cc).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::pos_embed_args {

inline void requireStorage(DType t, const char* op, const char* name) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(op) + " " + name + " must be f32 or bf16",
                "f32 or bf16", dtypeName(t));
  }
}

inline void check(const PosEmbedAddArgs& a) {
  requireStorage(a.dtype, "pos_embed_add", "x");
  requireStorage(a.posDtype, "pos_embed_add", "pos");
}

inline void check(const PosEmbedBwdArgs& a) {
  requireStorage(a.dtype, "pos_embed_bwd", "dx");
  requireStorage(a.posDtype, "pos_embed_bwd", "dpos");
  if (a.dxRowStride != 0 && a.dxRowStride < a.d) {
    throw Error(ErrorCode::InvalidArgument,
                "pos_embed_bwd dxRowStride must be 0 (dense) or at least d",
                "0 or >= " + std::to_string(a.d), std::to_string(a.dxRowStride));
  }
}

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
