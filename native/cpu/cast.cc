// y = x converted between f32 and bf16 (lib/kernels/cast.ts CastArgs): elementwise and memory-bound,
// split into contiguous chunks over the pool.
#include <cstring>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

// Chunks of elements as the parallel unit: big enough to amortise the dispatch, small enough to
// balance two to a few dozen threads.
constexpr int64_t kCastChunk = int64_t{1} << 15;

bool storage(DType t) { return t == DType::F32 || t == DType::BF16; }

}  // namespace

void cast(Stream stream, const CastArgs& a) {
  if (!storage(a.from) || !storage(a.to)) {
    throw Error(ErrorCode::DtypeMismatch, "cast converts between f32 and bf16", "f32 or bf16",
                std::string(dtypeName(a.from)) + " -> " + dtypeName(a.to));
  }
  int64_t chunks = (a.n + kCastChunk - 1) / kCastChunk;
  parallelRows(stream, chunks, a.n, [&](int64_t c0, int64_t c1) {
    int64_t begin = c0 * kCastChunk, end = std::min(a.n, c1 * kCastChunk);
    if (a.from == a.to) {
      size_t size = dtypeSize(a.from);
      std::memcpy(static_cast<char*>(a.y) + begin * size,
                  static_cast<const char*>(a.x) + begin * size, (end - begin) * size);
    } else if (a.from == DType::F32) {
      const float* x = static_cast<const float*>(a.x);
      uint16_t* y = static_cast<uint16_t*>(a.y);
      for (int64_t i = begin; i < end; ++i) y[i] = floatToBf16(x[i]);
    } else {
      const uint16_t* x = static_cast<const uint16_t*>(a.x);
      float* y = static_cast<float*>(a.y);
      for (int64_t i = begin; i < end; ++i) y[i] = bf16ToFloat(x[i]);
    }
  });
}

}  // namespace vit::cpu
