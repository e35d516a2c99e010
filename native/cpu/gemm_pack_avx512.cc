// AVX-512 packing of f32 GEMM panels (compiled with AVX-512 flags; called only when activeIsa() >=
// Avx512). Same layout as packPanelF32 (out[p][line], lines past `lines` zero), 16 lines per
// vector: a contiguous copy when lines are adjacent in memory (op(B) = B, op(A) = A^T), a 16x16
// register transpose when steps are (op(A) = A: 14 rows; op(B) = B^T), else a gather. The portable
// scalar version wrote one float at a time with strided stores: ~20% of the time on ViT shapes.
#include <immintrin.h>

#include "cpu/gemm_pack.h"

namespace vit::cpu {

namespace {

// 16 lines x 16 steps, contiguous along the steps (rows of A): 16 row loads, a 16x16 register
// transpose (64 shuffles), then out[p][line] stores. Lines past `lines` read as zero, steps past
// `steps` are neither read nor written. Much cheaper than gathers, which wait on every line.
void transpose16(const char* src, int64_t lineBytes, int64_t lines, int64_t steps,
                 __mmask16 storeMask, int width, float* out) {
  __mmask16 stepMask = steps >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << steps) - 1);
  __m512 r[16], t[16];
  for (int l = 0; l < 16; ++l) {
    r[l] = l < lines ? _mm512_maskz_loadu_ps(stepMask, src + l * lineBytes) : _mm512_setzero_ps();
  }
  // Within each 128-bit lane: t[4i + j] = rows 4i..4i+3 at column j of that lane.
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // Gather the 128-bit lanes: column 4L + j takes lane L of r[j], r[4 + j], r[8 + j], r[12 + j].
  for (int j = 0; j < 4; ++j) {
    __m512 x0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    __m512 x1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    __m512 y0 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    __m512 y1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    t[0 + j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    t[4 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
  for (int c = 0; c < 16 && c < steps; ++c) _mm512_mask_storeu_ps(out + c * width, storeMask, t[c]);
}

}  // namespace

bool packPanelF32Avx512(PanelSource<float> s, int64_t lines, int64_t depth, int width,
                        float* out) {
  if (width % 16 != 0 && width > 16) return false;
  // Gather indices are 32-bit: line offsets of a 16-line group must fit.
  if (s.lineStride != 1 && (s.lineStride < 0 || s.lineStride > (int64_t{1} << 31) / 32)) {
    return false;
  }
  const int groups = (width + 15) / 16;
  __mmask16 load[2], store[2];
  for (int gi = 0; gi < groups; ++gi) {
    int64_t have = lines - 16 * gi;
    load[gi] = have >= 16 ? 0xFFFF : have <= 0 ? 0 : static_cast<__mmask16>((1u << have) - 1);
    int rest = width - 16 * gi;
    store[gi] = rest >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << rest) - 1);
  }
  if (groups > 2) return false;
  if (s.lineStride == 1) {
    for (int64_t p = 0; p < depth; ++p) {
      const float* src = s.base + p * s.depthStride;
      // The next panel's lines follow in the same rows: op(B) rows are ldb apart, a stride the
      // hardware prefetcher misses, so fetch them into L2 while this panel is in use.
      _mm_prefetch(reinterpret_cast<const char*>(src + width), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(src + width + 16), _MM_HINT_T1);
      for (int gi = 0; gi < groups; ++gi) {
        __m512 v = _mm512_maskz_loadu_ps(load[gi], src + 16 * gi);
        _mm512_mask_storeu_ps(out + p * width + 16 * gi, store[gi], v);
      }
    }
    return true;
  }
  if (s.depthStride == 1) {
    for (int64_t p = 0; p < depth; p += 16) {
      for (int gi = 0; gi < groups; ++gi) {
        transpose16(reinterpret_cast<const char*>(s.base + p + 16 * gi * s.lineStride),
                    4 * s.lineStride, lines - 16 * gi, depth - p, store[gi], width,
                    out + p * width + 16 * gi);
      }
    }
    return true;
  }
  const __m512i idx = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int32_t>(s.lineStride)));
  for (int64_t p = 0; p < depth; ++p) {
    const float* src = s.base + p * s.depthStride;
    for (int gi = 0; gi < groups; ++gi) {
      __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), load[gi], idx,
                                          src + 16 * gi * s.lineStride, 4);
      _mm512_mask_storeu_ps(out + p * width + 16 * gi, store[gi], v);
    }
  }
  return true;
}

// bf16 pairs (out[p / 2][line][p % 2]), even depth only. Lines contiguous along k (rows of A): a
// pair is one 32-bit lane, so this is the f32 transpose moving pairs (bit-exact). Adjacent lines
// (op(B) = B): rows 2q and 2q+1 are interleaved with one 16-bit permute per 16 lines.
bool packPanelBf16PairsAvx512(PanelSource<uint16_t> s, int64_t lines, int64_t depth, int width,
                              uint16_t* out) {
  if (depth % 2 != 0 || (width % 16 != 0 && width > 16) || width > 32) return false;
  if (s.depthStride != 1 && s.lineStride != 1) return false;
  const int groups = (width + 15) / 16;
  int64_t steps = depth / 2;
  auto* out32 = reinterpret_cast<float*>(out);
  for (int gi = 0; gi < groups; ++gi) {
    int rest = width - 16 * gi;
    __mmask16 store = rest >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << rest) - 1);
    int64_t have = lines - 16 * gi;
    if (s.depthStride == 1) {
      for (int64_t q = 0; q < steps; q += 16) {
        transpose16(reinterpret_cast<const char*>(s.base + 2 * q + 16 * gi * s.lineStride),
                    2 * s.lineStride, have, steps - q, store, width, out32 + q * width + 16 * gi);
      }
      continue;
    }
    __mmask16 load = have >= 16 ? 0xFFFF : have <= 0 ? 0 : static_cast<__mmask16>((1u << have) - 1);
    // Word i of [even row | odd row] for output lane i / 2, half i % 2.
    const __m512i interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
        23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t q = 0; q < steps; ++q) {
      const uint16_t* even = s.base + 2 * q * s.depthStride + 16 * gi;
      __m256i x = _mm256_maskz_loadu_epi16(load, even);
      __m256i y = _mm256_maskz_loadu_epi16(load, even + s.depthStride);
      __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(x), y, 1);
      v = _mm512_permutexvar_epi16(interleave, v);
      _mm512_mask_storeu_epi32(out32 + q * width + 16 * gi, store, v);
    }
  }
  return true;
}

}  // namespace vit::cpu
