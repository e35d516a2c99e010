#include "cpu/block_sum.h"

#include <algorithm>
#include <vector>

#include "cpu/isa.h"
#include "cpu/storage_access.h"
#include "cpu/thread_pool.h"

namespace vit::cpu {

double blockSumAvx512(DType dtype, const void* x, int64_t begin, int64_t end, bool squares);

namespace {

// Eight independent double accumulators: the compiler keeps them in vector registers (no
// reassociation of one chain needed), and the order of additions is fixed by the code alone.
template <typename T, bool kSquares>
double sumRange(const T* x, int64_t begin, int64_t end) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    for (int j = 0; j < 8; ++j) {
      double v = loadF32(x, i + j);
      acc[j] += kSquares ? v * v : v;
    }
  }
  for (int j = 0; i < end; ++i, ++j) {
    double v = loadF32(x, i);
    acc[j] += kSquares ? v * v : v;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

double blockSum(DType dtype, const void* x, int64_t begin, int64_t end, bool squares, bool avx512) {
  // The AVX-512 path adds in the same eight-lane pattern, so both give the same bits.
  if (avx512) return blockSumAvx512(dtype, x, begin, end, squares);
  if (dtype == DType::F32) {
    const float* p = static_cast<const float*>(x);
    return squares ? sumRange<float, true>(p, begin, end) : sumRange<float, false>(p, begin, end);
  }
  const uint16_t* p = static_cast<const uint16_t*>(x);
  return squares ? sumRange<uint16_t, true>(p, begin, end) : sumRange<uint16_t, false>(p, begin, end);
}

int64_t blockCount(int64_t count, const int64_t* sizes) {
  int64_t blocks = 0;
  for (int64_t i = 0; i < count; ++i) blocks += (sizes[i] + kSumBlock - 1) / kSumBlock;
  return blocks;
}

double orderedTotal(const SumSource& src, void* poolHandle) {
  // first[i]: the global index of buffer i's first block; first[count] is the total.
  std::vector<int64_t> first(static_cast<size_t>(src.count) + 1, 0);
  for (int64_t i = 0; i < src.count; ++i) {
    first[i + 1] = first[i] + (src.sizes[i] + kSumBlock - 1) / kSumBlock;
  }
  int64_t blocks = first[src.count];
  std::vector<double> partial(static_cast<size_t>(blocks));
  const bool avx512 = activeIsa() >= Isa::Avx512;
  ThreadPool& pool = poolHandle ? *static_cast<ThreadPool*>(poolHandle) : defaultThreadPool();
  pool.parallelFor(blocks, [&](int64_t b0, int64_t b1) {
    // The buffer holding block b0, then walk forward.
    int64_t buf = std::upper_bound(first.begin(), first.end(), b0) - first.begin() - 1;
    for (int64_t b = b0; b < b1; ++b) {
      while (b >= first[buf + 1]) ++buf;
      int64_t begin = (b - first[buf]) * kSumBlock;
      int64_t end = std::min(src.sizes[buf], begin + kSumBlock);
      partial[b] = blockSum(src.dtypes[buf], src.buffers[buf], begin, end, src.squares, avx512);
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace vit::cpu
