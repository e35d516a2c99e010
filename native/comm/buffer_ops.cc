#include "comm/buffer_ops.h"

#include <algorithm>
#include <cstring>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/thread_pool.h"

namespace vit::comm {

namespace {

// Elements per parallel block: large enough that waking a thread pays off.
constexpr int64_t kBlock = int64_t{1} << 14;

template <typename Fn>
void forBlocks(int64_t count, Stream stream, const Fn& fn) {
  const int64_t blocks = (count + kBlock - 1) / kBlock;
  if (blocks <= 1) {
    if (count > 0) fn(int64_t{0}, count);
    return;
  }
  cpu::ThreadPool& pool =
      stream.handle ? *static_cast<cpu::ThreadPool*>(stream.handle) : cpu::defaultThreadPool();
  pool.parallelFor(blocks, [&](int64_t b0, int64_t b1) {
    fn(b0 * kBlock, std::min(count, b1 * kBlock));
  });
}

void requireFloat(DType dtype, const char* what) {
  if (dtype != DType::F32 && dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(what) + " sums f32 or bf16", "f32 or bf16",
                dtypeName(dtype));
  }
}

}  // namespace

void copyElements(void* dst, const void* src, int64_t count, DType dtype, Stream stream) {
  if (count <= 0 || dst == src) return;
  const int64_t size = static_cast<int64_t>(dtypeSize(dtype));
  forBlocks(count, stream, [&](int64_t b, int64_t e) {
    std::memcpy(static_cast<char*>(dst) + b * size, static_cast<const char*>(src) + b * size,
                static_cast<size_t>((e - b) * size));
  });
}

void sumInOrder(void* dst, const void* const* srcs, int n, int64_t count, DType dtype, float scale,
                Stream stream) {
  requireFloat(dtype, "a collective reduction");
  if (dtype == DType::F32) {
    float* y = static_cast<float*>(dst);
    forBlocks(count, stream, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float acc = static_cast<const float*>(srcs[0])[i];
        for (int j = 1; j < n; ++j) acc += static_cast<const float*>(srcs[j])[i];
        y[i] = acc * scale;
      }
    });
  } else {
    uint16_t* y = static_cast<uint16_t*>(dst);
    forBlocks(count, stream, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float acc = bf16ToFloat(static_cast<const uint16_t*>(srcs[0])[i]);
        for (int j = 1; j < n; ++j) acc += bf16ToFloat(static_cast<const uint16_t*>(srcs[j])[i]);
        y[i] = floatToBf16(acc * scale);
      }
    });
  }
}

}  // namespace vit::comm
