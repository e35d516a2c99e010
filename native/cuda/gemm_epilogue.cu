// In-place GEMM epilogue over C (see gemm_epilogue.h): (beta scaling for k == 0), + bias, GELU on a
// column range. f32 math, one rounding on store for bf16 C.
//
// Grid: blockIdx.y walks rows of all batches (grid-stride, so any batch * m), blockIdx.x and the
// threads walk the touched columns (grid-stride as well). Consecutive threads touch consecutive
// columns of one row: coalesced loads and stores. Each row's (batch, row) pair is computed once per
// row, not per element.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/bf16.h"
#include "core/status.h"
#include "cuda/gelu_math.cuh"
#include "cuda/gemm_epilogue.h"
#include "cuda/launch_check.h"
#include "cuda/storage_access.cuh"

namespace vit::cuda {

namespace {


// GELU: the one device definition (cuda/gelu_math.cuh), operation for operation the CPU's, so the
// epilogue and the standalone GELU kernel agree bit for bit with each other (and, in the tanh form,
// with the CPU's baseline build).
using gelu_math::geluErf;
using gelu_math::geluTanh;

struct KernelArgs {
  int64_t rows, m, ldc, strideC, col0, col1;
  bool scaleByBeta;
  float beta;
  const float* src;  // nullptr, or the f32 product to accumulate from
  int64_t ldSrc, strideSrc;
  int64_t geluBegin, geluEnd;
  bool erfForm;
};

// T: C's storage; B: the bias's (T, or float with a bf16 C).
template <typename T, typename B>
__global__ void gemmEpilogueKernel(T* __restrict__ c, const B* __restrict__ bias, KernelArgs a) {
  const int64_t colStride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < a.rows; r += gridDim.y) {
    const int64_t b = r / a.m, i = r - b * a.m;
    T* row = c + b * a.strideC + i * a.ldc;
    const float* srcRow = a.src ? a.src + b * a.strideSrc + i * a.ldSrc : nullptr;
    for (int64_t j = a.col0 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         j < a.col1; j += colStride) {
      float v;
      // beta == 0 never reads C (the BLAS rule: stale NaNs in C stay out).
      if (srcRow) {
        // f32 x f32 -> bf16: the CPU's alpha * AB + beta * C, with alpha * AB from cuBLASLt.
        v = srcRow[j];
        if (a.beta != 0.0f) v += a.beta * loadF32(row, j);
      } else if (a.scaleByBeta) {
        // k == 0: the CPU's alpha * 0 + beta * C.
        v = a.beta == 0.0f ? 0.0f : 0.0f + a.beta * loadF32(row, j);
      } else {
        v = loadF32(row, j);
      }
      if (bias) v += loadF32(bias, j);
      if (j >= a.geluBegin && j < a.geluEnd) v = a.erfForm ? geluErf(v) : geluTanh(v);
      storeF32(row, j, v);
    }
  }
}

template <typename T>
void launch(cudaStream_t stream, const GemmEpilogueArgs& e) {
  if (e.bias != nullptr && e.biasType != DType::F32 && e.biasType != e.cType) {
    throw Error(ErrorCode::DtypeMismatch, "gemm epilogue bias must be f32 or of C's dtype",
                std::string("f32 or ") + dtypeName(e.cType), dtypeName(e.biasType));
  }
  const bool gelu = e.colEnd > e.colBegin;
  // Bias, beta scaling and accumulation touch every column; GELU alone touches only its range.
  const bool allColumns = e.scaleByBeta || e.src != nullptr || e.bias != nullptr;
  const int64_t col0 = allColumns ? 0 : e.colBegin;
  const int64_t col1 = allColumns ? e.n : e.colEnd;
  const int64_t rows = e.batch * e.m;
  if (rows == 0 || col1 <= col0 || (!allColumns && !gelu)) return;
  constexpr int kThreads = 256;
  const int64_t width = col1 - col0;
  const int64_t blocksX = std::min<int64_t>((width + kThreads - 1) / kThreads, 64);
  const int64_t blocksY = std::min<int64_t>(rows, 65535);
  dim3 grid(static_cast<unsigned>(blocksX), static_cast<unsigned>(blocksY));
  KernelArgs a;
  a.rows = rows;
  a.m = e.m;
  a.ldc = e.ldc;
  a.strideC = e.batch > 1 ? e.strideC : 0;
  a.col0 = col0;
  a.col1 = col1;
  a.scaleByBeta = e.scaleByBeta;
  a.beta = e.beta;
  a.src = e.src;
  a.ldSrc = e.ldSrc;
  a.strideSrc = e.batch > 1 ? e.strideSrc : 0;
  a.geluBegin = gelu ? e.colBegin : 0;
  a.geluEnd = gelu ? e.colEnd : 0;
  a.erfForm = e.form == GeluForm::Erf;
  if (e.bias != nullptr && e.biasType == DType::F32) {
    gemmEpilogueKernel<T, float><<<grid, kThreads, 0, stream>>>(
        static_cast<T*>(e.c), static_cast<const float*>(e.bias), a);
  } else {
    gemmEpilogueKernel<T, T><<<grid, kThreads, 0, stream>>>(static_cast<T*>(e.c),
                                                           static_cast<const T*>(e.bias), a);
  }
  checkLaunch("gemm_epilogue");
}

}  // namespace

void launchGemmEpilogue(cudaStream_t stream, const GemmEpilogueArgs& e) {
  switch (e.cType) {
    case DType::F32: return launch<float>(stream, e);
    case DType::BF16: return launch<uint16_t>(stream, e);
    default:
      throw Error(ErrorCode::DtypeMismatch, "gemm epilogue supports f32 and bf16 C", "f32 or bf16",
                  dtypeName(e.cType));
  }
}

}  // namespace vit::cuda
