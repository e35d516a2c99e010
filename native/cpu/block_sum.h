// Deterministic, accurate sums of long buffers, shared by reduce_sum and global_norm.
// A buffer is cut into fixed blocks of kSumBlock elements (a constant, never the thread count);
// each block is summed in double, and the block sums are added in index order. The result is then
// the same for every thread count, and its error is that of double arithmetic: for 10^8 f32
// values it is far below f32's own rounding of the result.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace vit::cpu {

constexpr int64_t kSumBlock = int64_t{1} << 14;

// sum of x[begin, end) (or of x^2), in double. x is f32 or bf16. `avx512`: take the AVX-512 loop
// (the caller checked activeIsa() once); both loops give the same bits.
double blockSum(DType dtype, const void* x, int64_t begin, int64_t end, bool squares, bool avx512);

// The buffers' block sums, in order: out[i] for block i of the concatenation (each buffer starts a
// new block). `blockCount` returns how many blocks a list of sizes has.
int64_t blockCount(int64_t count, const int64_t* sizes);
struct SumSource {
  int64_t count;
  const DType* dtypes;
  const int64_t* sizes;
  const void* const* buffers;
  bool squares;
};
// Sums every block, in parallel on `pool` (a ThreadPool*, nullptr for the default), then adds the
// block sums in index order.
double orderedTotal(const SumSource& src, void* pool);

}  // namespace vit::cpu
