// The learned position embedding: forward x[B, T, D] += pos[T, D], backward dpos = sum over B of dx
// (whose rows may be dxRowStride apart: sum_to's bias gradient over a column window).
// The backward's unit of work is a slice of one token's D columns, summed over b in the fixed
// blocked order of kernels.h, in f32, so the result does not depend on the thread count.
#include <algorithm>
#include <string>

#include "core/pos_embed_args.h"
#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "cpu/storage_access.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kSlice = 512;

template <typename X, typename P>
void add(Stream stream, const PosEmbedAddArgs& a) {
  X* x = static_cast<X*>(a.x);
  const P* pos = static_cast<const P*>(a.pos);
  parallelRows(stream, a.b * a.t, a.b * a.t * a.d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      X* row = x + r * a.d;
      const P* prow = pos + (r % a.t) * a.d;
      for (int64_t j = 0; j < a.d; ++j) storeF32(row, j, loadF32(row, j) + loadF32(prow, j));
    }
  });
}

template <typename X, typename P>
void backward(Stream stream, const PosEmbedBwdArgs& a) {
  const X* dx = static_cast<const X*>(a.dx);
  P* dpos = static_cast<P*>(a.dpos);
  const int64_t rowStride = a.dxRowStride == 0 ? a.d : a.dxRowStride;
  int64_t slices = (a.d + kSlice - 1) / kSlice;
  parallelRows(stream, a.t * slices, a.b * a.t * a.d, [&](int64_t s0, int64_t s1) {
    float acc[kSlice], part[kSlice];
    for (int64_t s = s0; s < s1; ++s) {
      int64_t t = s / slices, d0 = (s % slices) * kSlice, w = std::min(kSlice, a.d - d0);
      // Row (b, t) of dx starts at (b * T + t) * rowStride. Blocks of kPosEmbedBwdRowBlock rows
      // (kernels.h), each in groups of four (see mean_pool.cc), then the block sums in order,
      // starting from the first block's.
      const int64_t stride = a.t * rowStride;
      for (int64_t b0 = 0; b0 < a.b || b0 == 0; b0 += kPosEmbedBwdRowBlock) {
        const int64_t b1 = std::min(a.b, b0 + kPosEmbedBwdRowBlock);
        std::fill(part, part + w, 0.0f);
        const X* row = dx + (b0 * a.t + t) * rowStride + d0;
        int64_t b = b0;
        for (; b + 4 <= b1; b += 4, row += 4 * stride) {
          const X *r1 = row + stride, *r2 = row + 2 * stride, *r3 = row + 3 * stride;
          for (int64_t j = 0; j < w; ++j) {
            part[j] += (loadF32(row, j) + loadF32(r1, j)) + (loadF32(r2, j) + loadF32(r3, j));
          }
        }
        for (; b < b1; ++b, row += stride) {
          for (int64_t j = 0; j < w; ++j) part[j] += loadF32(row, j);
        }
        for (int64_t j = 0; j < w; ++j) acc[j] = b0 == 0 ? part[j] : acc[j] + part[j];
      }
      for (int64_t j = 0; j < w; ++j) storeF32(dpos + t * a.d + d0, j, acc[j]);
    }
  });
}

}  // namespace

void posEmbedAdd(Stream stream, const PosEmbedAddArgs& a) {
  pos_embed_args::dispatch(a.dtype, a.posDtype, [&](auto xTag, auto pTag) {
    add<decltype(xTag), decltype(pTag)>(stream, a);
  });
}

void posEmbedBwd(Stream stream, const PosEmbedBwdArgs& a) {
  pos_embed_args::dispatch(a.dtype, a.posDtype, [&](auto xTag, auto pTag) {
    backward<decltype(xTag), decltype(pTag)>(stream, a);
  });
}

}  // namespace vit::cpu
