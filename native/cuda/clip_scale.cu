// scale = norm > maxNorm ? maxNorm / norm : 1, and NaN for a non-finite norm (lib/kernels/clip_scale.ts ClipScaleArgs).
// One thread: the value stays on the device, so a training step reads no norm back to the host.
#include <cuda_runtime.h>

#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

__global__ void clipScaleKernel(const float* __restrict__ norm, float maxNorm,
                                float* __restrict__ scale) {
  const float n = *norm;
  float s = 1.0f;
  if (!isfinite(n)) {
    s = __int_as_float(0x7fc00000);  // quiet NaN
  } else if (n > maxNorm) {
    s = __fdiv_rn(maxNorm, n);  // IEEE division (no fast-math approximation): the CPU's bits
  }
  *scale = s;
}

}  // namespace

void clipScale(Stream stream, const ClipScaleArgs& a) {
  clipScaleKernel<<<1, 1, 0, static_cast<cudaStream_t>(stream.handle)>>>(a.norm, a.maxNorm, a.scale);
  checkLaunch("clip_scale");
}

}  // namespace vit::cuda
