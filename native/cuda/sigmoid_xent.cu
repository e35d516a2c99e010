// Sigmoid (multi-label) cross-entropy with label smoothing on the GPU (lib/kernels/sigmoid_xent.ts SigmoidXentArgs;
// native/cpu/sigmoid_xent.cc is the reference, followed line by line). Per element, in double:
//   t' = (1 - eps) t + eps / 2;  loss += max(x, 0) - x t' + log1p(exp(-|x|))
//   dlogits = (sigmoid(x) - t') * dscale / N     (dscale / N in double, as on the CPU)
// One 256-thread block per row (grid-stride over rows); the row's loss is a double block sum.
//
// Targets live in device memory: a target outside [0, 1] (or NaN) makes the row's loss NaN and
// its own dlogits element NaN instead of throwing (cuda/input_checks.h; VIT22B_CUDA_CHECK_INPUTS=1
// restores the CPU's ERR_INVALID_ARGUMENT).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/xent_args.h"
#include "cuda/input_checks.h"
#include "cuda/launch_check.h"
#include "cuda/reduce_helpers.cuh"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kThreads = 256;

//   logits, dlogits [n, c] of T (dlogits may be null); targets [n, c] f32; loss [n] f32.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    sigmoidXentKernel(int64_t n, int64_t c, double keep, double floor, double gradScale,
                      const T* __restrict__ logits, const float* __restrict__ targets,
                      float* __restrict__ loss, T* __restrict__ dlogits) {
  __shared__ double shared[kThreads / 32];
  const double nan = __longlong_as_double(0x7ff8000000000000LL);
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* x = logits + r * c;
    const float* t = targets + r * c;
    T* dx = dlogits ? dlogits + r * c : nullptr;
    double l = 0.0;
    for (int64_t j = threadIdx.x; j < c; j += kThreads) {
      const double v = loadF32(x, j);
      const float tj = t[j];
      const bool bad = !(tj >= 0.0f && tj <= 1.0f);
      const double target = keep * tj + floor;
      const double e = exp(-fabs(v));  // in (0, 1]
      l += bad ? nan : fmax(v, 0.0) - v * target + log1p(e);
      if (dx) {
        const double sig = v >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        storeF32(dx, j, bad ? static_cast<float>(nan) : static_cast<float>((sig - target) * gradScale));
      }
    }
    l = blockAllSum<kThreads>(l, shared);
    if (threadIdx.x == 0) loss[r] = static_cast<float>(l);
  }
}

template <typename T>
void launch(cudaStream_t stream, const SigmoidXentArgs& a) {
  const double keep = 1.0 - a.epsilon, floor = 0.5 * a.epsilon;
  const double gradScale = static_cast<double>(a.dscale) / static_cast<double>(a.n);
  sigmoidXentKernel<T><<<gridFor(a.n, 1), kThreads, 0, stream>>>(
      a.n, a.c, keep, floor, gradScale, static_cast<const T*>(a.logits), a.targets, a.loss,
      static_cast<T*>(a.dlogits));
  checkLaunch("sigmoid_xent");
}

}  // namespace

void sigmoidXent(Stream stream, const SigmoidXentArgs& a) {
  if (a.n == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (hostInputChecks(s)) {
    const int64_t total = a.n * a.c;
    std::vector<float> targets = downloadForCheck(s, a.targets, total);
    xent_args::checkTargets(targets.data(), total);
  }
  if (a.dtype == DType::F32) return launch<float>(s, a);
  launch<uint16_t>(s, a);
}

}  // namespace vit::cuda
