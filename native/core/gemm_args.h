// The argument checks of gemm (kernels.h GemmArgs) that the CPU and CUDA backends share: storage
// types, the bias type and the GELU column range. Each backend adds its own limits (CUDA: int32
// dimensions for cuBLASLt).
#pragma once

#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::gemm_args {

inline void check(const GemmArgs& g) {
  for (DType t : {g.abType, g.cType}) {
    if (t != DType::F32 && t != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch, "gemm supports f32 and bf16 storage", "f32 or bf16",
                  dtypeName(t));
    }
  }
  const bool hasBias = g.epilogue == GemmEpilogue::Bias ||
                       (g.epilogue == GemmEpilogue::BiasGeluColumns && g.bias != nullptr);
  if (hasBias && g.biasType != DType::F32 && g.biasType != g.cType) {
    throw Error(ErrorCode::InvalidArgument, "gemm bias must be f32 or of C's dtype",
                std::string("f32 or ") + dtypeName(g.cType), dtypeName(g.biasType));
  }
  if (g.epilogue == GemmEpilogue::BiasGeluColumns &&
      !(g.colBegin >= 0 && g.colBegin <= g.colEnd && g.colEnd <= g.n)) {
    throw Error(ErrorCode::InvalidArgument, "gemm GELU column range is out of bounds",
                "0 <= colBegin <= colEnd <= " + std::to_string(g.n),
                "[" + std::to_string(g.colBegin) + ", " + std::to_string(g.colEnd) + ")");
  }
}

}  // namespace vit::gemm_args
