// Mean pooling over tokens, x [B, T, D] -> y [B, D], and its backward dx = dy / T broadcast over T.
// The forward's unit of work is a (b, slice of D) pair: each output element is the sum of its T
// inputs in a fixed order (groups of four rows, then the rest), in f32, by one task, so the result does not depend on the thread count.
#include <algorithm>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kSlice = 512;  // columns per task: the f32 accumulators stay in L1

void requireStorage(DType t, const char* op) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(op) + " supports f32 and bf16",
                "f32 or bf16", dtypeName(t));
  }
}

template <typename T>
void forward(Stream stream, const MeanPoolArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  int64_t slices = (a.d + kSlice - 1) / kSlice;
  parallelRows(stream, a.b * slices, a.b * a.t * a.d, [&](int64_t s0, int64_t s1) {
    float acc[kSlice];
    for (int64_t s = s0; s < s1; ++s) {
      int64_t b = s / slices, d0 = (s % slices) * kSlice, w = std::min(kSlice, a.d - d0);
      std::fill(acc, acc + w, 0.0f);
      // Four rows per pass over the accumulators: a quarter of the load/store traffic on acc,
      // which otherwise limits this loop well below memory bandwidth.
      const T* row = x + b * a.t * a.d + d0;
      int64_t t = 0;
      for (; t + 4 <= a.t; t += 4, row += 4 * a.d) {
        const T *r1 = row + a.d, *r2 = row + 2 * a.d, *r3 = row + 3 * a.d;
        for (int64_t j = 0; j < w; ++j) {
          acc[j] += (loadF32(row, j) + loadF32(r1, j)) + (loadF32(r2, j) + loadF32(r3, j));
        }
      }
      for (; t < a.t; ++t, row += a.d) {
        for (int64_t j = 0; j < w; ++j) acc[j] += loadF32(row, j);
      }
      // Division, not a multiply by 1/T: one rounding fewer.
      const float tokens = static_cast<float>(a.t);
      for (int64_t j = 0; j < w; ++j) storeF32(y + b * a.d + d0, j, acc[j] / tokens);
    }
  });
}

template <typename T>
void backward(Stream stream, const MeanPoolBwdArgs& a) {
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const float tokens = static_cast<float>(a.t);
  parallelRows(stream, a.b * a.t, a.b * a.t * a.d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* src = dy + (r / a.t) * a.d;
      T* dst = dx + r * a.d;
      for (int64_t j = 0; j < a.d; ++j) storeF32(dst, j, loadF32(src, j) / tokens);
    }
  });
}

}  // namespace

void meanPool(Stream stream, const MeanPoolArgs& a) {
  requireStorage(a.dtype, "mean_pool");
  if (a.t == 0) throw Error(ErrorCode::InvalidArgument, "mean_pool needs at least one token", "T >= 1", "0");
  if (a.dtype == DType::F32) return forward<float>(stream, a);
  forward<uint16_t>(stream, a);
}

void meanPoolBwd(Stream stream, const MeanPoolBwdArgs& a) {
  requireStorage(a.dtype, "mean_pool_bwd");
  if (a.t == 0) return;  // dx is empty
  if (a.dtype == DType::F32) return backward<float>(stream, a);
  backward<uint16_t>(stream, a);
}

}  // namespace vit::cpu
