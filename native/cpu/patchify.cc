// Patchify: NHWC images [B, H, W, C] <-> rows of patches [B, (H/p)*(W/p), p*p*C] (the layout is in
// lib/kernels/unpatchify.ts PatchifyArgs). Each image row segment of one patch, p*C elements, is contiguous
// on both sides, so both directions are runs of memcpy; the unit of work is one row of patches.
#include <cstring>

#include "core/status.h"
#include "cpu/parallel_rows.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

template <bool kToPatches>
void permute(Stream stream, const PatchifyArgs& a, const char* op) {
  const int64_t gh = a.h / a.p, gw = a.w / a.p;
  const size_t size = dtypeSize(a.dtype);
  const size_t run = static_cast<size_t>(a.p * a.c) * size;  // bytes of one patch row
  char* images = static_cast<char*>(a.images);
  char* patches = static_cast<char*>(a.patches);
  parallelRows(stream, a.b * gh, a.b * a.h * a.w * a.c, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / gh, gy = r % gh;
      for (int64_t gx = 0; gx < gw; ++gx) {
        char* patch = patches + ((b * gh + gy) * gw + gx) * static_cast<int64_t>(run) * a.p;
        for (int64_t py = 0; py < a.p; ++py) {
          char* image = images + (((b * a.h + gy * a.p + py) * a.w + gx * a.p) * a.c) * static_cast<int64_t>(size);
          if (kToPatches) {
            std::memcpy(patch + py * run, image, run);
          } else {
            std::memcpy(image, patch + py * run, run);
          }
        }
      }
    }
  });
}

}  // namespace

void patchify(Stream stream, const PatchifyArgs& a) { permute<true>(stream, a, "patchify"); }

// images (written) from patches (read): the backward of patchify.
void unpatchify(Stream stream, const PatchifyArgs& a) { permute<false>(stream, a, "unpatchify"); }

}  // namespace vit::cpu
