// Philox and random init on the GPU (lib/kernels/philox.ts PhiloxArgs, RandomInitArgs), bit for bit the
// CPU's values: the generator (core/philox.h) and the mapping of a word to a value
// (core/random_dist.h) are the very functions the CPU calls, compiled for the device; they use only
// integer operations and correctly rounded double operations through intrinsics that nvcc cannot
// contract into FMAs. The storage rounding and the uniform range fix-ups below repeat
// native/cpu/random.cc step for step (double -> f32 -> bf16, the same neighbours of lo and hi).
// Philox: one thread per 128-bit block. Init: one thread per element (it recomputes its block's
// Philox, ten multiply rounds, which is cheap next to the normal quantile's double math).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/bf16.h"
#include "core/philox.h"
#include "core/random_dist.h"
#include "core/status.h"
#include "cuda/device_storage.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

struct Counter {
  uint32_t v[4];
};

// The 128-bit counter base + b, with carries (cpu/random.cc counterPlus).
__device__ __forceinline__ Philox4 counterPlus(const Counter& base, uint64_t b) {
  Philox4 c;
  uint64_t carry = b;
  for (int w = 0; w < 4; ++w) {
    uint64_t s = static_cast<uint64_t>(base.v[w]) + (carry & 0xffffffffull);
    c.v[w] = static_cast<uint32_t>(s);
    carry = (carry >> 32) + (s >> 32);
  }
  return c;
}

__global__ void philoxKernel(Counter base, uint32_t k0, uint32_t k1, int64_t blocks,
                             uint32_t* __restrict__ out) {
  for (int64_t b = globalThread(); b < blocks; b += gridThreads()) {
    Philox4 r = philox4x32_10(counterPlus(base, static_cast<uint64_t>(b)), k0, k1);
    for (int w = 0; w < 4; ++w) out[4 * b + w] = r.v[w];
  }
}

// The scalars of one init call, prepared on the host exactly as the CPU prepares them.
struct InitParams {
  InitDistribution dist;
  uint32_t k0, k1, o0, o1;
  uint64_t start;
  float a, b;
  double lo, width;  // uniform: lo = a, width = double(b) - a
  // Uniform range fix-ups: the storage value that replaces a rounded result >= b (f32 and bf16)
  // or < a (bf16 only).
  float belowF32;
  uint16_t belowBf16, aboveBf16;
};

// The value of element i, in double (cpu/random.cc initRange).
__device__ __forceinline__ double initValue(const InitParams& p, int64_t i) {
  using namespace random_dist;
  const uint64_t g = p.start + static_cast<uint64_t>(i);
  const uint64_t block = g >> 2;
  const Philox4 c{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), p.o0, p.o1}};
  const uint32_t w = philox4x32_10(c, p.k0, p.k1).v[g & 3];
  switch (p.dist) {
    case InitDistribution::Uniform: return dadd(p.lo, dmul(p.width, uniform01(w)));
    case InitDistribution::Normal: return dadd(p.a, dmul(p.b, standardNormal(w)));
    case InitDistribution::TruncatedNormal: return dadd(p.a, dmul(p.b, truncatedStandardNormal(w)));
    default: return p.a;
  }
}

__global__ void initF32Kernel(InitParams p, int64_t n, float* __restrict__ out) {
  const bool uniform = p.dist == InitDistribution::Uniform;
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    const float f = __double2float_rn(initValue(p, i));
    out[i] = uniform && f >= p.b ? p.belowF32 : f;
  }
}

__global__ void initBf16Kernel(InitParams p, int64_t n, uint16_t* __restrict__ out) {
  const bool uniform = p.dist == InitDistribution::Uniform;
  for (int64_t i = globalThread(); i < n; i += gridThreads()) {
    uint16_t h = floatToBf16(__double2float_rn(initValue(p, i)));
    if (uniform) {
      const float f = bf16ToFloat(h);
      h = f >= p.b ? p.belowBf16 : (f < p.a ? p.aboveBf16 : h);
    }
    out[i] = h;
  }
}

}  // namespace

void philox(Stream stream, const PhiloxArgs& a) {
  if (a.blocks <= 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  const Counter base{{a.counter[0], a.counter[1], a.counter[2], a.counter[3]}};
  philoxKernel<<<blocksFor(a.blocks), kThreads, 0, s>>>(base, a.key[0], a.key[1], a.blocks, a.out);
  checkLaunch("philox");
}

void randomInit(Stream stream, const RandomInitArgs& a) {
  if (a.dtype != DType::F32 && a.dtype != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "random init writes f32 or bf16", "f32 or bf16",
                dtypeName(a.dtype));
  }
  if (a.n <= 0) return;
  InitParams p{};
  p.dist = a.dist;
  p.k0 = static_cast<uint32_t>(a.seed);
  p.k1 = static_cast<uint32_t>(a.seed >> 32);
  p.o0 = static_cast<uint32_t>(a.offset);
  p.o1 = static_cast<uint32_t>(a.offset >> 32);
  p.start = a.start;
  p.a = a.a;
  p.b = a.b;
  p.lo = a.a;
  p.width = static_cast<double>(a.b) - a.a;
  const random_dist::UniformBounds bounds = random_dist::uniformBounds(a.a, a.b);  // as on the CPU
  p.belowF32 = bounds.belowF32;
  p.belowBf16 = bounds.belowBf16;
  p.aboveBf16 = bounds.aboveBf16;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) {
    initF32Kernel<<<blocksFor(a.n), kThreads, 0, s>>>(p, a.n, static_cast<float*>(a.out));
  } else {
    initBf16Kernel<<<blocksFor(a.n), kThreads, 0, s>>>(p, a.n, static_cast<uint16_t*>(a.out));
  }
  checkLaunch("random_init");
}

}  // namespace vit::cuda
