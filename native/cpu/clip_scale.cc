// scale = norm > maxNorm ? maxNorm / norm : 1, and NaN for a non-finite norm (lib/kernels/clip_scale.ts ClipScaleArgs).
// One element: a plain load and store on the calling thread.
#include <cmath>
#include <limits>

#include "kernels.h"

namespace vit::cpu {

void clipScale(Stream, const ClipScaleArgs& a) {
  const float norm = *a.norm;
  float scale = 1.0f;
  if (!std::isfinite(norm)) {
    scale = std::numeric_limits<float>::quiet_NaN();
  } else if (norm > a.maxNorm) {
    scale = a.maxNorm / norm;  // f32 division, correctly rounded: the CUDA kernel gives the same bits
  }
  *a.scale = scale;
}

}  // namespace vit::cpu
