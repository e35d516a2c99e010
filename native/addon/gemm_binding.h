// launch('gemm', spec)'s argument object -> a validated GemmArgs.
#pragma once

#include <napi.h>

#include "addon/launch_context.h"
#include "kernels.h"

namespace vit::addon {

// Reads and checks { abType, cType, transA, transB, m, n, k, batch, alpha, beta, a, lda, strideA,
// b, ldb, strideB, c, ldc, strideC, bias?, biasType?, geluForm?, geluBegin?, geluEnd? } (strides
// and leading dimensions in elements; biasType 'f32' | 'bf16', absent = cType, must be f32 or
// cType; geluForm 'tanh' | 'erf' turns on GELU over columns [geluBegin, geluEnd)).
// Throws ERR_INVALID_ARGUMENT (types, ld below the row length, overlapping C batches, C aliasing an
// input, a bad biasType), ERR_DTYPE_MISMATCH, ERR_DEVICE_MISMATCH, ERR_DISPOSED, or
// ERR_SHAPE_MISMATCH with the bytes each buffer must hold against the bytes it has (the bias:
// n elements of biasType).
GemmArgs gemmArgsFromSpec(LaunchContext& ctx, const Napi::Object& spec);

}  // namespace vit::addon
