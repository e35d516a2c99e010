// The element work of the host communicators (self and local): copies, and sums of several ranks'
// buffers in rank order with one rounding. Spread over the device's pool by element blocks; each
// element is summed by one thread in the fixed order, so results never depend on the thread count.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels.h"

namespace vit::comm {

// dst[0, count) = src[0, count) (dtype-sized elements).
void copyElements(void* dst, const void* src, int64_t count, DType dtype, Stream stream);

// dst[i] = round(scale * (srcs[0][i] + srcs[1][i] + ... + srcs[n-1][i])), accumulated in f32 in
// that order, for i in [0, count). f32 or bf16. dst may be one of srcs only when n == 1.
void sumInOrder(void* dst, const void* const* srcs, int n, int64_t count, DType dtype, float scale,
                Stream stream);

}  // namespace vit::comm
