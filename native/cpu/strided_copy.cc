// Strided runs of contiguous elements (lib/kernels/strided_copy.ts StridedCopyArgs): the data movement of
// slices, concatenations and broadcasts. Memory-bound; each run is one memcpy, runs spread over the
// pool in blocks large enough to pay for the dispatch.
#include <algorithm>
#include <cstring>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "kernels.h"

namespace vit::cpu {

void stridedCopy(Stream stream, const StridedCopyArgs& a) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16 && a.dtype != DType::I32) {
    throw Error(ErrorCode::DtypeMismatch, "strided_copy moves f32, bf16 or i32", "f32, bf16 or i32",
                dtypeName(a.dtype));
  }
  const int64_t size = static_cast<int64_t>(dtypeSize(a.dtype));
  const int64_t runBytes = a.cols * size;
  if (a.batch <= 0 || runBytes == 0) return;
  // Group short runs so one parallel unit moves at least ~16 KiB.
  const int64_t perBlock = std::max<int64_t>(1, (int64_t{1} << 14) / runBytes);
  const int64_t blocks = (a.batch + perBlock - 1) / perBlock;
  const char* x = static_cast<const char*>(a.x);
  char* y = static_cast<char*>(a.y);
  parallelRows(stream, blocks, a.batch * a.cols, [&](int64_t b0, int64_t b1) {
    const int64_t end = std::min(a.batch, b1 * perBlock);
    for (int64_t i = b0 * perBlock; i < end; ++i) {
      std::memcpy(y + i * a.yStride * size, x + i * a.xStride * size, static_cast<size_t>(runBytes));
    }
  });
}

}  // namespace vit::cpu
