// Runs the CUDA attention kernels (native/cuda/attention_kernels.cuh) on the CPU, with each block's
// 128 threads as std::threads, __syncthreads and __syncwarp as a block barrier and __shfl_xor_sync
// through a shared exchange array, against a float64 reference. It checks the kernels' indexing,
// tiling, masking and synchronisation on a machine without a GPU (not their speed, and not the
// CUDA compiler). Shared memory starts NaN-filled and is exactly sized (AddressSanitizer catches
// overruns); outputs live in NaN-poisoned strided buffers, so unwritten or overwritten elements show.
//
//   g++ -std=c++20 -O1 -g -fsanitize=address -pthread -I native test/gpu/attention-emulate.cc \
//       -o /tmp/attention-emulate && /tmp/attention-emulate
#define VIT_ATTN_EMULATE 1

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <cstdlib>
#include <vector>

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
thread_local Dim3 threadIdx, blockIdx;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)

namespace emu {
std::barrier<>* barrier = nullptr;
float* smem = nullptr;
float exchange[128];
}  // namespace emu

inline void __syncthreads() { emu::barrier->arrive_and_wait(); }
inline void __syncwarp() { emu::barrier->arrive_and_wait(); }
// Every kernel calls the shuffles with all 128 threads in step, so a block barrier stands in for
// the warp's. lane ^ mask with mask < 32 stays inside the warp.
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  emu::exchange[threadIdx.x] = v;
  emu::barrier->arrive_and_wait();
  float r = emu::exchange[threadIdx.x ^ mask];
  emu::barrier->arrive_and_wait();
  return r;
}
namespace vit::cuda::attn {
inline float* dynamicSmem() { return emu::smem; }
}  // namespace vit::cuda::attn

// A model of the WMMA API as the tensor-core kernels use it: every thread holds the whole 16x16
// tile (the real fragment layout is unspecified and never relied on), loads and stores are
// warp-collective (here: block barriers around them, every warp calls them in step), only lane 0
// stores, and the documented rules are asserted: 32-byte aligned pointers, ldm a multiple of 16
// bytes. mma_sync sums k in ascending order in f32, as the hardware's order is not specified.
#include "core/bf16.h"
struct __nv_bfloat16 {
  uint16_t bits;
};
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  float x[16 * 16];
};
inline void requireAligned(const void* p, unsigned ldm, unsigned elemBytes) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * elemBytes) % 16 != 0) {
    std::fprintf(stderr, "WMMA rule broken: pointer %p, ldm %u\n", p, ldm);
    std::abort();
  }
}
template <typename Use, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, __nv_bfloat16, Layout>& f, const __nv_bfloat16* p,
                      unsigned ldm) {
  requireAligned(p, ldm, 2);
  emu::barrier->arrive_and_wait();
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      const __nv_bfloat16& e = std::is_same_v<Layout, row_major> ? p[i * ldm + j] : p[i + j * ldm];
      f.x[i * 16 + j] = vit::bf16ToFloat(e.bits);
    }
  emu::barrier->arrive_and_wait();
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
  requireAligned(p, ldm, 4);
  emu::barrier->arrive_and_wait();
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) f.x[i * 16 + j] = layout == mem_row_major ? p[i * ldm + j] : p[i + j * ldm];
  emu::barrier->arrive_and_wait();
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  requireAligned(p, ldm, 4);
  emu::barrier->arrive_and_wait();
  if (threadIdx.x % 32 == 0)
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) (layout == mem_row_major ? p[i * ldm + j] : p[i + j * ldm]) = f.x[i * 16 + j];
  emu::barrier->arrive_and_wait();
}
inline void fill_fragment(fragment<accumulator, 16, 16, 16, float>& f, float v) {
  for (float& e : f.x) e = v;
}
template <typename LA, typename LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d,
              const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LA>& a,
              const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LB>& b,
              const fragment<accumulator, 16, 16, 16, float>& c) {
  float out[16 * 16];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float acc = c.x[i * 16 + j];
      for (int k = 0; k < 16; ++k) acc = std::fma(a.x[i * 16 + k], b.x[k * 16 + j], acc);
      out[i * 16 + j] = acc;
    }
  std::memcpy(d.x, out, sizeof out);
}
}  // namespace nvcuda::wmma

#include "cuda/attention_kernels.cuh"
#include "cuda/attention_tc_kernels.cuh"

using namespace vit;
using namespace vit::cuda::attn;

template <typename P>
void launch(void (*kernel)(P), int64_t gx, int64_t gy, int smemFloats, const P& params) {
  for (unsigned by = 0; by < gy; ++by) {
    for (unsigned bx = 0; bx < gx; ++bx) {
      // 128-byte aligned like the kernels' extern __shared__ declaration.
      float* smem = static_cast<float*>(std::aligned_alloc(128, (smemFloats * 4 + 127) / 128 * 128));
      // All ones: NaN as f32 and as bf16, so a read of anything never written shows.
      std::memset(smem, 0xff, (smemFloats * 4 + 127) / 128 * 128);
      std::barrier<> bar(kThreads);
      emu::smem = smem;
      emu::barrier = &bar;
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          threadIdx = {t, 0, 0};
          blockIdx = {bx, by, 0};
          kernel(params);
        });
      }
      for (auto& th : threads) th.join();
      std::free(smem);
    }
  }
}

// A strided [B, T, H, Dh] operand inside a bigger NaN-poisoned buffer of T (float or bf16 bits).
template <typename T>
struct Buf {
  std::vector<T> data;
  int64_t b, t, h, d, batch, token, head, offset;
  Buf(int64_t b_, int64_t t_, int64_t h_, int64_t d_, int64_t tokenPad, int64_t offset_)
      : b(b_), t(t_), h(h_), d(d_), offset(offset_) {
    head = d;
    token = h * d + tokenPad;
    batch = t * token + 3;
    data.assign(offset + b * batch + 8, poison());
  }
  static T poison() {
    if constexpr (sizeof(T) == 4) return std::nanf("");
    else return 0x7fc0;
  }
  int64_t at(int64_t bi, int64_t ti, int64_t hi, int64_t di) const {
    return offset + bi * batch + ti * token + hi * head + di;
  }
  double get(int64_t bi, int64_t ti, int64_t hi, int64_t di) const {
    return toDouble(data[at(bi, ti, hi, di)]);
  }
  static double toDouble(T x) {
    if constexpr (sizeof(T) == 4) return x;
    else return bf16ToFloat(x);
  }
  void fill(std::mt19937& rng, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t hi2 = 0; hi2 < h; ++hi2)
          for (int64_t di = 0; di < d; ++di) {
            float v = u(rng);
            if constexpr (sizeof(T) == 4) data[at(bi, ti, hi2, di)] = v;
            else data[at(bi, ti, hi2, di)] = floatToBf16(v);
          }
  }
  // Every element outside the view must still be the poison; every element inside finite.
  bool poisonIntact(std::string& why) const {
    std::vector<char> inView(data.size(), 0);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t ti = 0; ti < t; ++ti)
        for (int64_t hi = 0; hi < h; ++hi)
          for (int64_t di = 0; di < d; ++di) inView[at(bi, ti, hi, di)] = 1;
    for (size_t i = 0; i < data.size(); ++i) {
      double v = toDouble(data[i]);
      if (inView[i] && !std::isfinite(v)) {
        why = "non-finite element " + std::to_string(i) + " inside the view";
        return false;
      }
      if (!inView[i] && !std::isnan(v)) {
        why = "element " + std::to_string(i) + " outside the view was written";
        return false;
      }
    }
    return true;
  }
  template <typename U>
  Operand<U> op() {
    return {reinterpret_cast<U*>(data.data() + offset), batch, token, head};
  }
};

int failures = 0;

void report(bool ok, const std::string& name, const std::string& detail) {
  std::printf("%s %s %s\n", ok ? "ok  " : "FAIL", name.c_str(), detail.c_str());
  if (!ok) ++failures;
}

template <typename T>
double maxErr(const Buf<T>& got, const std::vector<double>& ref, double& refMax) {
  double err = 0;
  refMax = 0;
  int64_t n = 0;
  for (int64_t bi = 0; bi < got.b; ++bi)
    for (int64_t ti = 0; ti < got.t; ++ti)
      for (int64_t hi = 0; hi < got.h; ++hi)
        for (int64_t di = 0; di < got.d; ++di, ++n) {
          double r = ref[n];
          refMax = std::max(refMax, std::fabs(r));
          double g = got.get(bi, ti, hi, di);
          double e = std::fabs(g - r);
          if (!(e <= err)) err = std::isnan(e) ? INFINITY : std::max(err, e);
        }
  return err;
}

template <typename T, int DH, int FBQ, int FBK, int BQ1, int BK1, int BQ2, int BK2>
void runCase(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int headDim, unsigned seed, bool tc) {
  const bool bf = sizeof(T) == 2;
  std::string name = std::string(bf ? (tc ? "bf16-tc" : "bf16") : "f32") + " B" + std::to_string(B) + " H" +
                     std::to_string(H) + " Tq" + std::to_string(Tq) + " Tk" + std::to_string(Tk) +
                     " Dh" + std::to_string(headDim);
  std::mt19937 rng(seed);
  Buf<T> q(B, Tq, H, headDim, 5, 1), k(B, Tk, H, headDim, 0, 2), v(B, Tk, H, headDim, 7, 0);
  Buf<T> o(B, Tq, H, headDim, 3, 4), dO(B, Tq, H, headDim, 1, 0);
  Buf<T> dQ(B, Tq, H, headDim, 2, 1), dK(B, Tk, H, headDim, 1, 3), dV(B, Tk, H, headDim, 4, 2);
  q.fill(rng, -2, 2);
  k.fill(rng, -2, 2);
  v.fill(rng, -1, 1);
  dO.fill(rng, -1, 1);
  std::vector<float> lse(B * H * Tq + 1, std::nanf(""));
  float scale = 1.0f / std::sqrt(static_cast<float>(headDim));

  FwdParams<T> fp{H, Tq, Tk, headDim, scale, q.template op<const T>(), k.template op<const T>(),
                  v.template op<const T>(), o.template op<T>(), lse.data()};
  constexpr bool kTcPossible = sizeof(T) == 2 && DH <= 128;
  if (Tq > 0) {
    if constexpr (kTcPossible) {
      if (tc) {
        launch(attentionFwdTcKernel<DH>, B * H, (Tq + kTcRows - 1) / kTcRows,
               tcFwdSmemBytes<DH>() / 4, fp);
      }
    }
    if (!tc) {
      launch(attentionFwdKernel<T, DH, FBQ, FBK>, B * H, (Tq + FBQ - 1) / FBQ,
             fwdSmemFloats<DH, FBQ, FBK>(), fp);
    }
  }

  // float64 reference: forward, then the backward on the kernel's own O and lse (as in training).
  std::vector<double> oRef, lseRef, dqRef(B * Tq * H * headDim, 0.0), dkRef(B * Tk * H * headDim, 0.0),
      dvRef(B * Tk * H * headDim, 0.0);
  oRef.assign(B * Tq * H * headDim, 0.0);
  lseRef.assign(B * H * Tq, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> s(Tq * Tk), p(Tq * Tk), dP(Tq * Tk), dS(Tq * Tk);
      for (int64_t i = 0; i < Tq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < Tk; ++j) {
          double acc = 0;
          for (int d = 0; d < headDim; ++d) acc += q.get(b, i, h, d) * k.get(b, j, h, d);
          s[i * Tk + j] = scale * acc;
          mx = std::max(mx, s[i * Tk + j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < Tk; ++j) sum += std::exp(s[i * Tk + j] - mx);
        lseRef[(b * H + h) * Tq + i] = mx + std::log(sum);
        for (int64_t j = 0; j < Tk; ++j) p[i * Tk + j] = std::exp(s[i * Tk + j] - mx) / sum;
        for (int d = 0; d < headDim; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Tk; ++j) acc += p[i * Tk + j] * v.get(b, j, h, d);
          oRef[((b * Tq + i) * H + h) * headDim + d] = acc;
        }
      }
      // backward with D from the kernel's O (rounded as stored), P from the exact softmax
      for (int64_t i = 0; i < Tq; ++i) {
        double D = 0;
        for (int d = 0; d < headDim; ++d) D += dO.get(b, i, h, d) * o.get(b, i, h, d);
        for (int64_t j = 0; j < Tk; ++j) {
          double acc = 0;
          for (int d = 0; d < headDim; ++d) acc += dO.get(b, i, h, d) * v.get(b, j, h, d);
          dP[i * Tk + j] = acc;
          dS[i * Tk + j] = scale * p[i * Tk + j] * (acc - D);
        }
      }
      for (int d = 0; d < headDim; ++d) {
        for (int64_t i = 0; i < Tq; ++i) {
          double acc = 0;
          for (int64_t j = 0; j < Tk; ++j) acc += dS[i * Tk + j] * k.get(b, j, h, d);
          dqRef[((b * Tq + i) * H + h) * headDim + d] = acc;
        }
        for (int64_t j = 0; j < Tk; ++j) {
          double ak = 0, av = 0;
          for (int64_t i = 0; i < Tq; ++i) {
            ak += dS[i * Tk + j] * q.get(b, i, h, d);
            av += p[i * Tk + j] * dO.get(b, i, h, d);
          }
          dkRef[((b * Tk + j) * H + h) * headDim + d] = ak;
          dvRef[((b * Tk + j) * H + h) * headDim + d] = av;
        }
      }
    }

  // f32: dot products of <= 256 terms and expf; bf16: one rounding of each output (2^-8 relative)
  // plus the bf16-rounded O feeding D in the backward.
  const double rel = bf ? 1.0 / 128 : 2e-5;
  auto checkOut = [&](const char* what, const Buf<T>& got, const std::vector<double>& ref) {
    std::string why;
    bool ok = got.poisonIntact(why);
    double refMax = 0, err = maxErr(got, ref, refMax);
    bool close = err <= rel * refMax + 1e-6;
    report(ok && close, name + " " + what,
           ok ? "max err " + std::to_string(err) + " (max |ref| " + std::to_string(refMax) + ")"
              : why);
  };
  if (Tq > 0) {
    checkOut("O", o, oRef);
    double lerr = 0;
    for (int64_t i = 0; i < B * H * Tq; ++i) {
      double e = std::fabs(lse[i] - lseRef[i]);
      lerr = std::isnan(e) ? INFINITY : std::max(lerr, e);
    }
    report(lerr <= 2e-5 * 10 && std::isnan(lse[B * H * Tq]), name + " lse",
           "max err " + std::to_string(lerr));
  }

  BwdParams<T> bp{H,
                  Tq,
                  Tk,
                  headDim,
                  scale,
                  q.template op<const T>(),
                  k.template op<const T>(),
                  v.template op<const T>(),
                  o.template op<const T>(),
                  dO.template op<const T>(),
                  lse.data(),
                  dQ.template op<T>(),
                  dK.template op<T>(),
                  dV.template op<T>()};
  if constexpr (kTcPossible) {
    if (tc) {
      launch(attentionDkDvTcKernel<DH>, B * H, (Tk + kTcRows - 1) / kTcRows,
             tcDkDvSmemBytes<DH>() / 4, bp);
      if (Tq > 0) {
        launch(attentionDqTcKernel<DH>, B * H, (Tq + kTcRows - 1) / kTcRows,
               tcDqSmemBytes<DH>() / 4, bp);
      }
    }
  }
  if (!tc) {
    launch(attentionDkDvKernel<T, DH, BQ1, BK1>, B * H, (Tk + BK1 - 1) / BK1,
           dkdvSmemFloats<DH, BQ1, BK1>(), bp);
    if (Tq > 0) {
      launch(attentionDqKernel<T, DH, BQ2, BK2>, B * H, (Tq + BQ2 - 1) / BQ2,
             dqSmemFloats<DH, BQ2, BK2>(), bp);
    }
  }
  if (Tq > 0) checkOut("dQ", dQ, dqRef);
  checkOut("dK", dK, dkRef);
  checkOut("dV", dV, dvRef);
}

// The tile configurations of native/cuda/attention.cu.
template <typename T>
void runDh(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int headDim, unsigned seed, bool tc) {
  if (headDim <= 32) return runCase<T, 32, 64, 64, 32, 64, 64, 64>(B, H, Tq, Tk, headDim, seed, tc);
  if (headDim <= 64) return runCase<T, 64, 64, 64, 32, 64, 64, 64>(B, H, Tq, Tk, headDim, seed, tc);
  if (headDim <= 128) return runCase<T, 128, 64, 32, 32, 32, 64, 32>(B, H, Tq, Tk, headDim, seed, tc);
  return runCase<T, 256, 32, 32, 32, 16, 32, 16>(B, H, Tq, Tk, headDim, seed, tc);
}

int main(int argc, char** argv) {
  // [B, H, Tq, Tk, Dh]
  const int64_t cases[][5] = {
      {1, 1, 1, 1, 1},   {2, 2, 1, 17, 32},  {1, 2, 17, 17, 64}, {1, 1, 70, 130, 128},
      {1, 1, 33, 49, 256}, {1, 1, 0, 5, 16}, {2, 1, 65, 3, 17}, {1, 1, 197, 197, 64},
      {1, 2, 1, 197, 128},
  };
  // `attention-emulate tc` runs the tensor-core kernels alone, `attention-emulate simt` the others.
  const std::string only = argc > 1 ? argv[1] : "";
  unsigned seed = 1;
  for (const auto& c : cases) {
    if (only == "tc") {
      if (c[4] <= 128) runDh<uint16_t>(c[0], c[1], c[2], c[3], static_cast<int>(c[4]), seed + 1, true);
      seed += 2;
      continue;
    }
    runDh<float>(c[0], c[1], c[2], c[3], static_cast<int>(c[4]), seed++, false);
    runDh<uint16_t>(c[0], c[1], c[2], c[3], static_cast<int>(c[4]), seed, false);
    if (only == "simt") {
      ++seed;
      continue;
    }
    // The tensor-core kernels on the same inputs (bf16, head dims <= 128).
    if (c[4] <= 128) runDh<uint16_t>(c[0], c[1], c[2], c[3], static_cast<int>(c[4]), seed, true);
    ++seed;
  }
  std::printf("%d failures\n", failures);
  return failures ? 1 : 0;
}
