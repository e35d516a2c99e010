// GELU forward and backward on a column range of a row-major [rows, cols] matrix (native/kernels.h
// GeluFwdArgs, GeluBwdArgs) on the GPU, with the CPU's formulas (cuda/gelu_math.cuh). f32 or bf16
// storage, f32 math, rounded once on store. Outside the range y = x and dx = dy, copied as raw
// storage (as the CPU's memcpy does, so even a signalling-NaN bf16 keeps its bits).
// Rows may be strided (column windows of a wider matrix) and a bias (f32 or bf16) may be added
// inside the range before the GELU, in f32 (an explicit __fadd_rn, as the CPU's one add). The dense
// whole-range case without bias keeps the flat kernel.
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

// Sub-range, strided rows or a bias: blockIdx.y walks rows, x threads walk columns, so no
// per-element division is needed. Row r of x is at x + r * xs (elements), of y at y + r * ys.
// bias (B: float or uint16_t bf16; nullptr = none) is [c1 - c0], added in f32 inside the range.
template <typename T, typename B, int kForm>
__global__ void geluFwdColumns(int64_t rows, int64_t cols, int64_t c0, int64_t c1, const T* x,
                               int64_t xs, T* y, int64_t ys, const B* bias) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* in = x + r * xs;
    T* out = y + r * ys;
    for (int64_t c = globalThread(); c < cols; c += gridThreads()) {
      if (c >= c0 && c < c1) {
        float v = loadF32(in, c);
        if (bias != nullptr) v = gelu_math::add(v, loadF32(bias, c - c0));
        storeF32(out, c, gelu_math::gelu<kForm>(v));
      } else {
        out[c] = in[c];
      }
    }
  }
}

template <typename T, typename B, int kForm>
__global__ void geluBwdColumns(int64_t rows, int64_t cols, int64_t c0, int64_t c1, const T* x,
                               int64_t xs, const T* dy, int64_t dys, T* dx, int64_t dxs,
                               const B* bias) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const T* xr = x + r * xs;
    const T* dyr = dy + r * dys;
    T* dxr = dx + r * dxs;
    for (int64_t c = globalThread(); c < cols; c += gridThreads()) {
      if (c >= c0 && c < c1) {
        float v = loadF32(xr, c);
        if (bias != nullptr) v = gelu_math::add(v, loadF32(bias, c - c0));
        storeF32(dxr, c, gelu_math::mul(loadF32(dyr, c), gelu_math::geluGrad<kForm>(v)));
      } else {
        dxr[c] = dyr[c];
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

inline int64_t strideOr(int64_t stride, int64_t cols) { return stride == 0 ? cols : stride; }

template <typename T, int kForm>
void forward(cudaStream_t s, const GeluFwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const int64_t xs = strideOr(a.xStride, a.cols), ys = strideOr(a.yStride, a.cols);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  if (full && a.bias == nullptr && xs == a.cols && ys == a.cols) {
    const int64_t n = a.rows * a.cols;
    geluFwdFlat<T, kForm><<<blocksFor(n), kThreads, 0, s>>>(n, x, y);
  } else if (a.bias != nullptr && a.biasType == DType::BF16) {
    geluFwdColumns<T, uint16_t, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, xs, y, ys, static_cast<const uint16_t*>(a.bias));
  } else {
    geluFwdColumns<T, float, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, xs, y, ys, static_cast<const float*>(a.bias));
  }
  checkLaunch("gelu_fwd");
}

template <typename T, int kForm>
void backward(cudaStream_t s, const GeluBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const int64_t xs = strideOr(a.xStride, a.cols), dys = strideOr(a.dyStride, a.cols),
                dxs = strideOr(a.dxStride, a.cols);
  const bool full = a.colBegin == 0 && a.colEnd == a.cols;
  if (full && a.bias == nullptr && xs == a.cols && dys == a.cols && dxs == a.cols) {
    const int64_t n = a.rows * a.cols;
    geluBwdFlat<T, kForm><<<blocksFor(n), kThreads, 0, s>>>(n, x, dy, dx);
  } else if (a.bias != nullptr && a.biasType == DType::BF16) {
    geluBwdColumns<T, uint16_t, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, xs, dy, dys, dx, dxs,
        static_cast<const uint16_t*>(a.bias));
  } else {
    geluBwdColumns<T, float, kForm><<<columnGrid(a.rows, a.cols), kThreads, 0, s>>>(
        a.rows, a.cols, a.colBegin, a.colEnd, x, xs, dy, dys, dx, dxs,
        static_cast<const float*>(a.bias));
  }
  checkLaunch("gelu_bwd");
}

}  // namespace

void geluFwd(Stream stream, const GeluFwdArgs& a) {
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
