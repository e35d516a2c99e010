#include "cpu/gemm_pack.h"

#include <cstring>

#include "core/bf16.h"

namespace vit::cpu {

namespace {

inline float widen(float x) { return x; }
inline float widen(uint16_t x) { return bf16ToFloat(x); }

// out[p * width + line]; the loop order follows whichever source stride is contiguous.
template <typename Src>
void packF32Panel(PanelSource<Src> s, int64_t lines, int64_t depth, int width, float* out) {
  if (lines < width) std::memset(out, 0, sizeof(float) * static_cast<size_t>(depth) * width);
  if (s.depthStride == 1) {
    for (int64_t l = 0; l < lines; ++l) {
      const Src* row = s.base + l * s.lineStride;
      for (int64_t p = 0; p < depth; ++p) out[p * width + l] = widen(row[p]);
    }
  } else {
    for (int64_t p = 0; p < depth; ++p) {
      const Src* col = s.base + p * s.depthStride;
      float* dst = out + p * width;
      for (int64_t l = 0; l < lines; ++l) dst[l] = widen(col[l * s.lineStride]);
    }
  }
}

}  // namespace

void packPanelF32(PanelSource<float> src, int64_t lines, int64_t depth, int width, float* out) {
  packF32Panel(src, lines, depth, width, out);
}

void packPanelBf16AsF32(PanelSource<uint16_t> src, int64_t lines, int64_t depth, int width,
                        float* out) {
  packF32Panel(src, lines, depth, width, out);
}

void packPanelBf16Pairs(PanelSource<uint16_t> s, int64_t lines, int64_t depth, int width,
                        uint16_t* out) {
  int64_t steps = (depth + 1) / 2;
  if (lines < width || depth % 2 != 0) {
    std::memset(out, 0, sizeof(uint16_t) * 2 * static_cast<size_t>(steps) * width);
  }
  // Element (line, p) goes to out[((p / 2) * width + line) * 2 + p % 2].
  if (s.depthStride == 1) {
    for (int64_t l = 0; l < lines; ++l) {
      const uint16_t* row = s.base + l * s.lineStride;
      uint16_t* dst = out + 2 * l;
      for (int64_t p = 0; p + 1 < depth; p += 2) {
        dst[p * width] = row[p];
        dst[p * width + 1] = row[p + 1];
      }
      if (depth % 2 != 0) dst[(depth - 1) * width] = row[depth - 1];
    }
  } else {
    for (int64_t p = 0; p < depth; ++p) {
      const uint16_t* col = s.base + p * s.depthStride;
      uint16_t* dst = out + (p / 2) * 2 * width + p % 2;
      for (int64_t l = 0; l < lines; ++l) dst[2 * l] = col[l * s.lineStride];
    }
  }
}

}  // namespace vit::cpu
