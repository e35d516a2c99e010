// row_moments and row_moments_bwd (lib/kernels/row_moments.ts, row_moments_bwd.ts): the partial row
// statistics of a norm whose features are split over devices, and their backward. Rows are
// independent and each is summed in column order, so the thread count never changes a result.
#include <cstdint>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

template <typename T>
void moments(Stream stream, const RowMomentsArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const int64_t d = a.dim;
  parallelRows(stream, a.rows, a.rows * d, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // Double: a slice of up to thousands of columns, then a sum over the slices, keeps f32's
      // precision for the variance that norm_apply takes from these raw moments.
      double s1 = 0.0;
      double s2 = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double v = loadF32(x, i * d + j);
        s1 += v;
        s2 += v * v;
      }
      a.stats[2 * i] = static_cast<float>(s1);
      a.stats[2 * i + 1] = static_cast<float>(s2);
    }
  });
}

template <typename T>
void momentsBwd(Stream stream, const RowMomentsBwdArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* dx = static_cast<T*>(a.dx);
  const int64_t d = a.dim;
  parallelRows(stream, a.rows, a.rows * d, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float ds1 = a.dstats[2 * i];
      const float ds2x2 = 2.0f * a.dstats[2 * i + 1];
      for (int64_t j = 0; j < d; ++j) storeF32(dx, i * d + j, ds1 + ds2x2 * loadF32(x, i * d + j));
    }
  });
}

}  // namespace

void rowMoments(Stream stream, const RowMomentsArgs& a) {
  if (a.dtype == DType::F32) return moments<float>(stream, a);
  if (a.dtype == DType::BF16) return moments<uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "row_moments supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

void rowMomentsBwd(Stream stream, const RowMomentsBwdArgs& a) {
  if (a.dtype == DType::F32) return momentsBwd<float>(stream, a);
  if (a.dtype == DType::BF16) return momentsBwd<uint16_t>(stream, a);
  throw Error(ErrorCode::DtypeMismatch, "row_moments_bwd supports f32 and bf16", "f32 or bf16", dtypeName(a.dtype));
}

}  // namespace vit::cpu
