// The argument checks of patchify / unpatchify (kernels.h PatchifyArgs), one copy for the CPU and
// CUDA backends: storage type, and a patch size dividing the image.
#pragma once

#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::patchify_args {

inline void check(const PatchifyArgs& a, const char* op) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(op) + " supports f32 and bf16",
                "f32 or bf16", dtypeName(a.dtype));
  }
  if (a.p < 1 || a.h % a.p != 0 || a.w % a.p != 0) {
    throw Error(ErrorCode::InvalidArgument, std::string(op) + ": H and W must be multiples of p",
                "p >= 1 dividing H and W",
                "H " + std::to_string(a.h) + ", W " + std::to_string(a.w) + ", p " + std::to_string(a.p));
  }
}

}  // namespace vit::patchify_args
