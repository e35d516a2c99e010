// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as torch.optim.AdamW
// computes it, in one pass over param/grad/m/v (the formula is in kernels.h, AdamwHyper).
//
// Memory-bound: per element it reads 14-16 bytes and writes 12. The baseline loop stays scalar
// (sqrtf's errno semantics keep the compiler from vectorizing it), so CPUs with AVX-512 run
// adamw_avx512.cc instead. Every element is independent, so the result cannot depend on the
// thread count; work is cut into fixed-size chunks so the split does not depend on it either.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/bf16.h"
#include "core/status.h"
#include "cpu/adamw_kernels.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

// 32K elements (~900 KB of traffic) per task: large enough to amortize a task, small enough to
// balance two to a few dozen threads.
constexpr int64_t kChunk = 1 << 15;

inline float gradAt(const float* g, int64_t i) { return g[i]; }
inline float gradAt(const uint16_t* g, int64_t i) { return bf16ToFloat(g[i]); }

template <typename G>
void updateRange(const AdamwConstants& c, float* __restrict param, const G* __restrict grad,
                 float* __restrict m, float* __restrict v, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float g = c.gradScale * gradAt(grad, i);
    float mi = c.beta1 * m[i] + c.oneMinusBeta1 * g;
    float vi = c.beta2 * v[i] + c.oneMinusBeta2 * (g * g);
    float denom = std::sqrt(vi) / c.sqrtBc2 + c.eps;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * c.decayFactor - c.stepSize * (mi / denom);
  }
}

void updateTensorRange(const AdamwConstants& c, const AdamwTensor& t, int64_t begin, int64_t end,
                       bool avx512) {
  if (avx512 && t.gradType == DType::F32) {
    return adamwRangeAvx512(c, t.param, static_cast<const float*>(t.grad), t.m, t.v, begin, end);
  }
  if (avx512 && t.gradType == DType::BF16) {
    return adamwRangeAvx512Bf16Grad(c, t.param, static_cast<const uint16_t*>(t.grad), t.m, t.v,
                                    begin, end);
  }
  switch (t.gradType) {
    case DType::F32:
      return updateRange(c, t.param, static_cast<const float*>(t.grad), t.m, t.v, begin, end);
    case DType::BF16:
      return updateRange(c, t.param, static_cast<const uint16_t*>(t.grad), t.m, t.v, begin, end);
    default:
      throw Error(ErrorCode::DtypeMismatch, "adamw gradients must be f32 or bf16", "f32 or bf16",
                  dtypeName(t.gradType));
  }
}

void checkHyper(const AdamwHyper& h) {
  if (h.step < 1) {
    throw Error(ErrorCode::InvalidArgument, "adamw step counts from 1", "step >= 1",
                std::to_string(h.step));
  }
}

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

// One task per (tensor, chunk): chunks never straddle tensors, so each task is one plain loop.
struct Task {
  int64_t tensor, begin, end;
};

}  // namespace

void adamw(Stream stream, const AdamwArgs& a) {
  AdamwMultiArgs multi;
  multi.hyper = a.hyper;
  multi.count = 1;
  multi.tensors = &a.tensor;
  adamwMulti(stream, multi);
}

void adamwMulti(Stream stream, const AdamwMultiArgs& args) {
  // Dynamic fields (kernels.h): read once, then checked like values given directly.
  AdamwMultiArgs a = args;
  AdamwHyper& h = a.hyper;
  if (h.stepPtr) h.step = *h.stepPtr;
  if (h.lrPtr) h.lr = *h.lrPtr;
  if (h.weightDecayPtr) h.weightDecay = *h.weightDecayPtr;
  if (h.gradScalePtr) h.gradScale = *h.gradScalePtr;
  checkHyper(a.hyper);
  const AdamwConstants c = adamwConstants(a.hyper);
  const bool avx512 = activeIsa() >= Isa::Avx512;
  std::vector<Task> tasks;
  for (int64_t k = 0; k < a.count; ++k) {
    const AdamwTensor& t = a.tensors[k];
    if (t.gradType != DType::F32 && t.gradType != DType::BF16) {
      throw Error(ErrorCode::DtypeMismatch, "adamw gradients must be f32 or bf16", "f32 or bf16",
                  dtypeName(t.gradType));
    }
    for (int64_t b = 0; b < t.n; b += kChunk) tasks.push_back({k, b, std::min(t.n, b + kChunk)});
  }
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      updateTensorRange(c, a.tensors[tasks[i].tensor], tasks[i].begin, tasks[i].end, avx512);
    }
  };
  int64_t n = static_cast<int64_t>(tasks.size());
  if (n <= 1) {
    body(0, n);
  } else {
    poolOf(stream).parallelFor(n, body);
  }
}

}  // namespace vit::cpu
