// The argument checks of gelu_fwd / gelu_bwd (kernels.h GeluFwdArgs / GeluBwdArgs), one copy for
// the CPU and CUDA backends: storage type, column range, row strides and bias type. Operand sizes
// are the launcher's business (native/addon/gelu_binding.cc).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::gelu_args {

inline void checkRange(DType dtype, int64_t cols, int64_t c0, int64_t c1, const char* kernel) {
  if (dtype != DType::F32 && dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " supports f32 and bf16",
                "f32 or bf16", dtypeName(dtype));
  }
  if (c0 < 0 || c0 > c1 || c1 > cols) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " column range is out of bounds",
                "0 <= colBegin <= colEnd <= " + std::to_string(cols),
                "[" + std::to_string(c0) + ", " + std::to_string(c1) + ")");
  }
}

// 0 is dense (a row every `cols` elements); any other stride must leave rows disjoint.
inline void checkStride(int64_t stride, int64_t cols, const char* kernel, const char* name) {
  if (stride != 0 && stride < cols) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(kernel) + " " + name + " must be 0 (dense) or at least cols",
                "0 or >= " + std::to_string(cols), std::to_string(stride));
  }
}

inline void checkBias(const void* bias, DType type, const char* kernel) {
  if (bias != nullptr && type != DType::F32 && type != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " biasType must be f32 or bf16",
                "f32 or bf16", dtypeName(type));
  }
}

inline void check(const GeluFwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_fwd");
  checkStride(a.xStride, a.cols, "gelu_fwd", "xStride");
  checkStride(a.yStride, a.cols, "gelu_fwd", "yStride");
  checkBias(a.bias, a.biasType, "gelu_fwd");
}

inline void check(const GeluBwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_bwd");
  checkStride(a.xStride, a.cols, "gelu_bwd", "xStride");
  checkStride(a.dyStride, a.cols, "gelu_bwd", "dyStride");
  checkStride(a.dxStride, a.cols, "gelu_bwd", "dxStride");
  checkBias(a.bias, a.biasType, "gelu_bwd");
}

}  // namespace vit::gelu_args
