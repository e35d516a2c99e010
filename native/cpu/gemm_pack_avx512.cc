// AVX-512 packing of f32 GEMM panels (compiled with AVX-512 flags; called only when activeIsa() >=
// Avx512). Same layout as packPanelF32 (out[p][line], lines past `lines` zero), 16 lines per
// vector: a contiguous copy when lines are adjacent in memory (op(B) = B, op(A) = A^T), a gather
// along the lines otherwise (op(A) = A: 14 rows; op(B) = B^T). The portable scalar version wrote
// one float at a time with strided stores and was ~20% of the run time on the ViT shapes.
#include <immintrin.h>

#include "cpu/gemm_pack.h"

namespace vit::cpu {

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

}  // namespace vit::cpu
