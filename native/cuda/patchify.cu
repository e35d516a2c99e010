// Patchify and unpatchify on the GPU (lib/kernels/unpatchify.ts PatchifyArgs): NHWC images [B, H, W, C] <->
// rows of patches [B, (H/p)(W/p), p*p*C], a pure permutation of storage bits.
// The patches tensor is a sequence of segments of run = p*C contiguous elements, segment
// s = ((b * gh + gy) * gw + gx) * p + py, each also contiguous in the image, at
//   image element (((b * H + gy * p + py) * W + gx * p) * C).
// One thread per element in patch order: coalesced on the patch side, runs of p*C on the image side.
// The element size alone matters (a copy), so f32 moves as u32 and bf16 as u16.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

struct Geometry {
  int64_t h, w, c, p, gh, gw, run;  // run = p * C
};

// Image element index of patch element e (all indices in elements).
__device__ __forceinline__ int64_t imageIndex(const Geometry& g, int64_t e) {
  const int64_t s = e / g.run, j = e - s * g.run;
  const int64_t py = s % g.p, q = s / g.p;     // q = (b * gh + gy) * gw + gx
  const int64_t gx = q % g.gw, bg = q / g.gw;  // bg = b * gh + gy
  const int64_t gy = bg % g.gh, b = bg / g.gh;
  return (((b * g.h + gy * g.p + py) * g.w + gx * g.p) * g.c) + j;
}

template <typename W, bool kToPatches>
__global__ void permuteKernel(int64_t total, Geometry g, W* __restrict__ images,
                              W* __restrict__ patches) {
  for (int64_t e = globalThread(); e < total; e += gridThreads()) {
    const int64_t i = imageIndex(g, e);
    if (kToPatches) {
      patches[e] = images[i];
    } else {
      images[i] = patches[e];
    }
  }
}

template <bool kToPatches>
void permute(Stream stream, const PatchifyArgs& a, const char* op) {
  const int64_t total = a.b * a.h * a.w * a.c;
  if (total <= 0) return;
  const Geometry g{a.h, a.w, a.c, a.p, a.h / a.p, a.w / a.p, a.p * a.c};
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) {
    permuteKernel<uint32_t, kToPatches><<<blocksFor(total), kThreads, 0, s>>>(
        total, g, static_cast<uint32_t*>(a.images), static_cast<uint32_t*>(a.patches));
  } else {
    permuteKernel<uint16_t, kToPatches><<<blocksFor(total), kThreads, 0, s>>>(
        total, g, static_cast<uint16_t*>(a.images), static_cast<uint16_t*>(a.patches));
  }
  checkLaunch(op);
}

}  // namespace

void patchify(Stream stream, const PatchifyArgs& a) { permute<true>(stream, a, "patchify"); }

// images (written) from patches (read): the backward of patchify.
void unpatchify(Stream stream, const PatchifyArgs& a) { permute<false>(stream, a, "unpatchify"); }

}  // namespace vit::cuda
