// The per-step constants of AdamW (lib/kernels/records.ts AdamwHyper), computed once per call in double and
// rounded to f32, in one place for every backend: the CPU kernels, the CUDA host code, and the CUDA
// kernel that computes them on the device when the step's values live in device memory (a step
// replayed as a CUDA graph). pow and sqrt in double: on the device CUDA's may differ from glibc's in
// the last double ulp, which can move a rounded f32 constant by one ulp at most.
#pragma once

#include <cmath>

#include "core/bf16.h"  // VIT_HD: __host__ __device__ under nvcc, inline otherwise
#include "kernels.h"

namespace vit {

struct AdamwConstants {
  float decayFactor;  // 1 - lr * wd
  float beta1, oneMinusBeta1, beta2, oneMinusBeta2;
  float stepSize;  // lr / (1 - beta1^t)
  float sqrtBc2;   // sqrt(1 - beta2^t)
  float eps, gradScale;
};

// From the value fields of `h` (the caller resolves any *Ptr field first).
VIT_HD AdamwConstants adamwConstants(const AdamwHyper& h) {
  const double t = static_cast<double>(h.step);
  const double bc1 = 1.0 - ::pow(static_cast<double>(h.beta1), t);
  const double bc2 = 1.0 - ::pow(static_cast<double>(h.beta2), t);
  AdamwConstants c;
  c.decayFactor = static_cast<float>(1.0 - static_cast<double>(h.lr) * h.weightDecay);
  c.beta1 = h.beta1;
  c.oneMinusBeta1 = static_cast<float>(1.0 - h.beta1);
  c.beta2 = h.beta2;
  c.oneMinusBeta2 = static_cast<float>(1.0 - h.beta2);
  c.stepSize = static_cast<float>(h.lr / bc1);
  c.sqrtBc2 = static_cast<float>(::sqrt(bc2));
  c.eps = h.eps;
  c.gradScale = h.gradScale;
  return c;
}

}  // namespace vit
