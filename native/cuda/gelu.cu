// GELU forward and backward on a column range of a row-major [rows, cols] matrix (native/kernels.h
// GeluFwdArgs, GeluBwdArgs) on the GPU, with the CPU's formulas (cuda/gelu_math.cuh). f32 or bf16
// storage, f32 math, rounded once on store. Outside the range y = x and dx = dy, copied as raw
// storage (as the CPU's memcpy does, so even a signalling-NaN bf16 keeps its bits).
// In place is allowed (y == x, dx == dy): each element is read before it is written by the same
// thread, so the pointers carry no __restrict__.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/gelu_math.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

// Full range: one flat grid-stride loop over rows * cols elements.
template <typename T, int kForm>
__global__ void geluFwdFlat(int64_t n, const T* x, T* y) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    storeF32(y, i, gelu_math::gelu<kForm>(loadF32(x, i)));
  }
}

template <typename T, int kForm>
__global__ void geluBwdFlat(int64_t n, const T* x, const T* dy, T* dx) {
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    storeF32(dx, i, gelu_math::mul(loadF32(dy, i), gelu_math::geluGrad<kForm>(loadF32(x, i))));
  }
}

// Sub-range: blockIdx.y walks rows, x threads walk columns, so no per-element division is needed.
template <typename T, int kForm>
__global__ void geluFwdColumns(int64_t rows, int64_t cols, int64_t c0, int64_t c1, const T* x,
                               T* y) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* in = x + r * cols;
    T* out = y + r * cols;
    for (int64_t c = globalThread(); c < cols; c += gridThreads()) {
      if (c >= c0 && c < c1) {
        storeF32(out, c, gelu_math::gelu<kForm>(loadF32(in, c)));
      } else {
        out[c] = in[c];
      }
    }
  }
}

template <typename T, int kForm>
__global__ void geluBwdColumns(int64_t rows, int64_t cols, int64_t c0, int64_t c1, const T* x,
                               const T* dy, T* dx) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const int64_t o = r * cols;
    for (int64_t c = globalThread(); c < cols; c += gridThreads()) {
      if (c >= c0 && c < c1) {
        storeF32(dx + o, c,
                 gelu_math::mul(loadF32(dy + o, c), gelu_math::geluGrad<kForm>(loadF32(x + o, c))));
      } else {
        dx[o + c] = dy[o + c];
      }
    }
  }
}

// The 2-D grid of the sub-range kernels: enough column blocks to cover a row once, rows up to the
// gridDim.y limit, and no more than ~kMaxBlocks blocks in all.
dim3 columnGrid(int64_t rows, int64_t cols) {
  int64_t x = (cols + kThreads - 1) / kThreads;
  x = std::max<int64_t>(1, std::min<int64_t>(x, kMaxBlocks));
  int64_t y = std::max<int64_t>(1, std::min<int64_t>({rows, kMaxGridYZ, std::max<int64_t>(1, kMaxBlocks / x)}));
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y));
}

void checkRange(DType dtype, int64_t cols, int64_t c0, int64_t c1, const char* kernel) {
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

template <typename T, int kForm>
void forward(cudaStream_t s, const GeluFwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  if (a.colBegin == 0 && a.colEnd == a.cols) {
    const int64_t n = a.rows * a.cols;
    geluFwdFlat<T, kForm><<<blocksFor(n), kThreads, 0, s>>>(n, x, y);
  } else {
    geluFwdColumns<T, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, y);
  }
  checkLaunch("gelu_fwd");
}

template <typename T, int kForm>
void backward(cudaStream_t s, const GeluBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  if (a.colBegin == 0 && a.colEnd == a.cols) {
    const int64_t n = a.rows * a.cols;
    geluBwdFlat<T, kForm><<<blocksFor(n), kThreads, 0, s>>>(n, x, dy, dx);
  } else {
    geluBwdColumns<T, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, dy, dx);
  }
  checkLaunch("gelu_bwd");
}

}  // namespace

void geluFwd(Stream stream, const GeluFwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_fwd");
  if (a.rows == 0 || a.cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const bool erf = a.form == GeluForm::Erf;
  if (a.dtype == DType::F32) {
    erf ? forward<float, 1>(s, a) : forward<float, 0>(s, a);
  } else {
    erf ? forward<uint16_t, 1>(s, a) : forward<uint16_t, 0>(s, a);
  }
}

void geluBwd(Stream stream, const GeluBwdArgs& a) {
  checkRange(a.dtype, a.cols, a.colBegin, a.colEnd, "gelu_bwd");
  if (a.rows == 0 || a.cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const bool erf = a.form == GeluForm::Erf;
  if (a.dtype == DType::F32) {
    erf ? backward<float, 1>(s, a) : backward<float, 0>(s, a);
  } else {
    erf ? backward<uint16_t, 1>(s, a) : backward<uint16_t, 0>(s, a);
  }
}

}  // namespace vit::cuda
