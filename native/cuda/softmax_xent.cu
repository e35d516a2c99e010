// Softmax cross-entropy with label smoothing on the GPU, loss and optional gradient in one kernel
// (lib/kernels/softmax_xent.ts SoftmaxXentArgs; native/cpu/softmax_xent.cc is the reference and this follows it
// line by line): one 256-thread block per row, grid-stride over rows. Row max in f32, sum of
// exp(x - max) and sum of x in double, loss and dlogits in double rounded once to f32 (then to
// the storage type), exactly the CPU's expressions; only the order of the row sums differs.
//
// Labels live in device memory, so an out-of-range label cannot be thrown before the launch
// without a synchronization: see cuda/input_checks.h (NaN loss and NaN dlogits row by default,
// the CPU's ERR_INVALID_ARGUMENT with VIT22B_CUDA_CHECK_INPUTS=1).
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

//   logits, dlogits [n, c] of T (dlogits may be null); labels [n]; loss [n] f32.
//   onHot = 1 - eps, offHot = eps / c (double, as the CPU), gradScale = float(dscale / n).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    softmaxXentKernel(int64_t n, int64_t c, double onHot, double offHot, float gradScale,
                      bool smoothing, const T* __restrict__ logits,
                      const int32_t* __restrict__ labels, float* __restrict__ loss,
                      T* __restrict__ dlogits) {
  __shared__ float sharedF[kThreads / 32];
  __shared__ double sharedD[kThreads / 32];
  const double nan = __longlong_as_double(0x7ff8000000000000LL);
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* x = logits + r * c;
    const int64_t label = labels[r];
    const bool bad = label < 0 || label >= c;
    // Subtracting the row max keeps every exp() in (0, 1].
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < c; j += kThreads) m = fmaxf(m, loadF32(x, j));
    m = blockAllMax<kThreads>(m, sharedF);
    double sumExp = 0.0, sumX = 0.0;
    for (int64_t j = threadIdx.x; j < c; j += kThreads) {
      const float v = loadF32(x, j);
      sumExp += exp(static_cast<double>(__fsub_rn(v, m)));
      sumX += v;
    }
    sumExp = blockAllSum<kThreads>(sumExp, sharedD);
    sumX = blockAllSum<kThreads>(sumX, sharedD);
    const double logSum = log(sumExp);
    if (threadIdx.x == 0) {
      // loss = (m + logSum) - sum_j q_j x_j, written around the max as on the CPU.
      double l = bad ? nan : (static_cast<double>(m) - loadF32(x, label)) * onHot + logSum;
      // The smoothing term only when smoothing is on: with eps = 0 a -inf logit must not give 0 * inf.
      if (smoothing) l += offHot * (static_cast<double>(m) * static_cast<double>(c) - sumX);
      loss[r] = static_cast<float>(l);
    }
    if (dlogits) {
      T* dx = dlogits + r * c;
      const double invSum = 1.0 / sumExp;
      for (int64_t j = threadIdx.x; j < c; j += kThreads) {
        const double p = exp(static_cast<double>(__fsub_rn(loadF32(x, j), m))) * invSum;
        const double q = (j == label ? onHot : 0.0) + offHot;
        storeF32(dx, j, bad ? static_cast<float>(nan) : static_cast<float>((p - q) * gradScale));
      }
    }
  }
}

template <typename T>
void launch(cudaStream_t stream, const SoftmaxXentArgs& a) {
  const double onHot = 1.0 - a.epsilon;
  const double offHot = static_cast<double>(a.epsilon) / static_cast<double>(a.c);
  const float gradScale = static_cast<float>(static_cast<double>(a.dscale) / static_cast<double>(a.n));
  softmaxXentKernel<T><<<gridFor(a.n, 1), kThreads, 0, stream>>>(
      a.n, a.c, onHot, offHot, gradScale, a.epsilon != 0.0f, static_cast<const T*>(a.logits),
      a.labels, a.loss, static_cast<T*>(a.dlogits));
  checkLaunch("softmax_xent");
}

}  // namespace

void softmaxXent(Stream stream, const SoftmaxXentArgs& a) {
  if (a.n == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (hostInputChecks(s)) {
    std::vector<int32_t> labels = downloadForCheck(s, a.labels, a.n);
    xent_args::checkLabels(labels.data(), a.n, a.c);
  }
  if (a.dtype == DType::F32) return launch<float>(s, a);
  launch<uint16_t>(s, a);
}

}  // namespace vit::cuda
