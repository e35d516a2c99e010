// Packing for the GEMM driver: copies a block of op(A) or op(B) into the contiguous, zero-padded
// panel layout of gemm_microkernel.h, so the micro-kernel reads memory strictly sequentially
// whatever the transposes and leading dimensions were.
#pragma once

#include <cstdint>

namespace vit::cpu {

// A strided 2-D view: element (line, p) is at base[line * lineStride + p * depthStride].
// "Lines" are rows of op(A) or columns of op(B); p runs along k.
template <typename T>
struct PanelSource {
  const T* base;
  int64_t lineStride;
  int64_t depthStride;
};

// Writes one panel of `width` lines by `depth` k steps: out[p][line] (f32), lines >= `lines` and
// (pairs) the odd tail step zero. bf16 sources are widened exactly for the f32 panels.
void packPanelF32(PanelSource<float> src, int64_t lines, int64_t depth, int width, float* out);
void packPanelBf16AsF32(PanelSource<uint16_t> src, int64_t lines, int64_t depth, int width,
                        float* out);
// The same as packPanelF32 with AVX-512 (gemm_pack_avx512.cc; only when activeIsa() >= Avx512).
// Returns false, writing nothing, for the layouts it does not handle (width not 14/16/32-like).
bool packPanelF32Avx512(PanelSource<float> src, int64_t lines, int64_t depth, int width,
                        float* out);
// out[p / 2][line][p % 2] (bf16 bits), depth padded to even.
void packPanelBf16Pairs(PanelSource<uint16_t> src, int64_t lines, int64_t depth, int width,
                        uint16_t* out);
// The same with AVX-512 (gemm_pack_avx512.cc); false, writing nothing, where it does not apply.
bool packPanelBf16PairsAvx512(PanelSource<uint16_t> src, int64_t lines, int64_t depth, int width,
                              uint16_t* out);

}  // namespace vit::cpu
