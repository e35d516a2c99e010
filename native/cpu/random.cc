// Counter-based random numbers: raw Philox4x32-10 blocks, and parameter initialization
// (constant, uniform, normal, truncated normal) from (seed, offset, element index) alone.
// Each element is computed from its own counter, so the result is the same for any split of the
// work, any thread count and (with native/core/random_dist.h shared) the CUDA backend.
#include <algorithm>
#include <cmath>

#include "core/bf16.h"
#include "core/philox.h"
#include "core/random_dist.h"
#include "core/status.h"
#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

constexpr int64_t kChunk = 1 << 14;  // elements (or blocks) per task

ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

template <typename Fn>
void forChunks(Stream stream, int64_t n, const Fn& fn) {
  int64_t tasks = (n + kChunk - 1) / kChunk;
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) fn(t * kChunk, std::min(n, (t + 1) * kChunk));
  };
  if (tasks <= 1) {
    body(0, tasks);
  } else {
    poolOf(stream).parallelFor(tasks, body);
  }
}

// The 128-bit counter base + b, with carries.
Philox4 counterPlus(const uint32_t base[4], uint64_t b) {
  Philox4 c;
  uint64_t carry = b;
  for (int w = 0; w < 4; ++w) {
    uint64_t s = static_cast<uint64_t>(base[w]) + (carry & 0xffffffffull);
    c.v[w] = static_cast<uint32_t>(s);
    carry = (carry >> 32) + (s >> 32);
  }
  return c;
}

template <typename Store>
void initRange(const RandomInitArgs& a, int64_t begin, int64_t end, const Store& store) {
  using namespace random_dist;
  const uint32_t k0 = static_cast<uint32_t>(a.seed), k1 = static_cast<uint32_t>(a.seed >> 32);
  const uint32_t o0 = static_cast<uint32_t>(a.offset), o1 = static_cast<uint32_t>(a.offset >> 32);
  const double lo = a.a, width = static_cast<double>(a.b) - a.a;
  uint64_t cachedBlock = ~0ull;
  Philox4 words{};
  for (int64_t i = begin; i < end; ++i) {
    uint64_t g = a.start + static_cast<uint64_t>(i);
    uint64_t block = g >> 2;
    if (block != cachedBlock) {
      Philox4 c{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), o0, o1}};
      words = philox4x32_10(c, k0, k1);
      cachedBlock = block;
    }
    uint32_t w = words.v[g & 3];
    double x;
    switch (a.dist) {
      case InitDistribution::Uniform: x = dadd(lo, dmul(width, uniform01(w))); break;
      case InitDistribution::Normal: x = dadd(a.a, dmul(a.b, standardNormal(w))); break;
      case InitDistribution::TruncatedNormal:
        x = dadd(a.a, dmul(a.b, truncatedStandardNormal(w)));
        break;
      default: x = a.a; break;
    }
    store(i, x);
  }
}

}  // namespace

void philox(Stream stream, const PhiloxArgs& a) {
  forChunks(stream, a.blocks, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      Philox4 r = philox4x32_10(counterPlus(a.counter, static_cast<uint64_t>(b)), a.key[0], a.key[1]);
      for (int w = 0; w < 4; ++w) a.out[4 * b + w] = r.v[w];
    }
  });
}

void randomInit(Stream stream, const RandomInitArgs& a) {
  const bool uniform = a.dist == InitDistribution::Uniform;
  switch (a.dtype) {
    case DType::F32: {
      float* out = static_cast<float*>(a.out);
      const float below = random_dist::uniformBounds(a.a, a.b).belowF32;
      forChunks(stream, a.n, [&](int64_t begin, int64_t end) {
        initRange(a, begin, end, [&](int64_t i, double x) {
          float f = static_cast<float>(x);
          out[i] = uniform && f >= a.b ? below : f;
        });
      });
      return;
    }
    case DType::BF16: {
      uint16_t* out = static_cast<uint16_t*>(a.out);
      const random_dist::UniformBounds bounds = random_dist::uniformBounds(a.a, a.b);
      const uint16_t below = bounds.belowBf16, above = bounds.aboveBf16;
      forChunks(stream, a.n, [&](int64_t begin, int64_t end) {
        initRange(a, begin, end, [&](int64_t i, double x) {
          uint16_t h = floatToBf16(static_cast<float>(x));
          if (uniform) {
            float f = bf16ToFloat(h);
            h = f >= a.b ? below : (f < a.a ? above : h);
          }
          out[i] = h;
        });
      });
      return;
    }
    default:
      throw Error(ErrorCode::DtypeMismatch, "random init writes f32 or bf16", "f32 or bf16",
                  dtypeName(a.dtype));
  }
}

}  // namespace vit::cpu
