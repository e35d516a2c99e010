// The part of a GEMM epilogue that cuBLASLt does not do for us, as one small in-place kernel over
// C (native/cuda/gemm_epilogue.cu), applied after cuBLASLt has written C:
//   - GELU on a column range [colBegin, colEnd) (cuBLASLt's GELU epilogue covers whole rows of D
//     and is the tanh form only);
//   - the bias, when cuBLASLt's bias epilogue could not be used (an unaligned bias pointer, or no
//     algorithm with that epilogue for the shape, e.g. an f32 bias on a bf16 C);
//   - the whole epilogue of k == 0, where there is no product: C = beta * C (+ bias) (then GELU);
//   - the whole epilogue of f32 x f32 -> bf16, which cuBLASLt computes into an f32 scratch
//     P = alpha A B: C = round(P + beta * C (+ bias), then GELU), one rounding as on the CPU.
// The GELU formulas are the CPU backend's (native/cpu/gelu_math.h, gelu.cc), evaluated in f32.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels.h"

namespace vit::cuda {

struct GemmEpilogueArgs {
  DType cType = DType::F32;  // f32 | bf16
  void* c = nullptr;         // [batch][m, ldc], strideC elements apart
  int64_t batch = 1, m = 0, n = 0, ldc = 0, strideC = 0;
  // k == 0: C = beta * C first (beta == 0 writes 0 and never reads C); otherwise C already holds
  // alpha * A B + beta * C and is only read and rewritten.
  bool scaleByBeta = false;
  float beta = 0.0f;
  // When set: C = src + beta * C (beta == 0 never reads C), src [batch][m, ldSrc] f32 strideSrc
  // elements apart; scaleByBeta must then be false.
  const float* src = nullptr;
  int64_t ldSrc = 0, strideSrc = 0;
  const void* bias = nullptr;  // [n] of biasType, or nullptr: no bias here
  DType biasType = DType::F32;  // cType, or f32 (with either C): added in f32 before C is stored
  // GELU on columns [colBegin, colEnd); an empty range: none.
  int64_t colBegin = 0, colEnd = 0;
  GeluForm form = GeluForm::Tanh;
};

// Enqueues the kernel on `stream` (nothing when there is nothing to do). Throws like checkLaunch.
void launchGemmEpilogue(cudaStream_t stream, const GemmEpilogueArgs& e);

}  // namespace vit::cuda
