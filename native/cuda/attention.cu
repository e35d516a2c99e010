// Fused multi-head attention on the GPU, forward and backward (lib/kernels/attention_fwd.ts AttentionFwdArgs /
// AttentionBwdArgs), with the CPU backend's semantics (native/cpu/attention.cc): strided head
// views (Q, K, V straight out of the fused projection), Tq != Tk (Tq = 1 for the MAP head), head
// dims 1..256, f32 or bf16 storage, f32 math, the lse output of the forward feeding the backward.
// The kernels are in cuda/attention_kernels.cuh; this file picks tile sizes and launches them.
//
// Tile sizes per padded head dim DH (32, 64, 128, 256), chosen so that a thread's register
// accumulators stay at <= 64 floats and shared memory at <= ~110 KiB (fits sm_80's 163 KiB and
// leaves sm_90 room for two blocks per SM):
//   forward  [BQ x BK]: 64 x 64 (DH <= 64), 64 x 32 (DH 128), 32 x 32 (DH 256)
//   dK/dV    [BQ x BK]: 32 x 64 (DH <= 64), 32 x 32 (DH 128), 32 x 16 (DH 256)
//   dQ       [BQ x BK]: 64 x 64 (DH <= 64), 64 x 32 (DH 128), 32 x 16 (DH 256)
// and on the tensor cores (bf16, DH 32, 64, 128): forward 64 x 64, dK/dV 32 x 64, dQ 64 x 32
// (at most 145 KiB of shared memory, the dK/dV kernel at DH 128).
// Backward determinism: dK/dV and dQ come from two kernels, each gradient element owned by one
// thread that sums over the other side's blocks in ascending order: no atomics, no reduction
// whose order depends on scheduling, so two runs give the same bits (the price: P and dS are
// computed twice, once per kernel).
//
// Two code paths:
//   CUDA cores (cuda/attention_kernels.cuh): every dtype and head dim, all math f32. The reference.
//   tensor cores (cuda/attention_tc_kernels.cuh): bf16 storage with head dims <= 128, WMMA
//     bf16 x bf16 -> f32; P and dS are rounded to bf16 before their products (see that file).
// bf16 with headDim <= 128 takes the tensor cores unless the environment variable
// VIT22B_CUDA_ATTENTION=simt (read at each call) forces the CUDA-core kernels.
// Tests: test/gpu/attention-checks.cjs (GPU against the CPU backend, both paths) and
// test/gpu/attention-emulate.cc (both paths' kernels run on the CPU by a thread-per-CUDA-thread
// emulation, for machines without a GPU).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/status.h"
#include "cuda/attention_kernels.cuh"
#include "cuda/attention_tc_kernels.cuh"
#include "cuda/launch_check.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

using attn::BwdParams;
using attn::FwdParams;
using attn::Operand;

void requireStorage(DType t, const char* kernel) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " supports f32 and bf16 storage",
                "f32 or bf16", dtypeName(t));
  }
}

// The limits of this implementation beyond the declared ones (lib/kernels/attention_fwd.ts, checked
// by the launcher): the grid size.
void checkSizes(int64_t batch, int64_t heads, int64_t tq, int64_t tk, int64_t headDim,
                const char* kernel) {
  // Grid: x = batch * heads (up to 2^31 - 1), y = blocks of 16+ tokens (up to 65535).
  if (batch * heads > 0x7fffffffLL || tq > 16LL * 65535 || tk > 16LL * 65535) {
    throw Error(ErrorCode::InvalidArgument, std::string(kernel) + " sizes exceed the CUDA grid",
                "batch * heads < 2^31 and tq, tk <= 1048560",
                std::to_string(batch * heads) + ", " + std::to_string(tq) + ", " +
                    std::to_string(tk));
  }
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <typename T>
Operand<const T> operandIn(const void* p, const HeadStrides& s) {
  return {static_cast<const T*>(p), s.batch, s.token, s.head};
}

template <typename T>
Operand<T> operandOut(void* p, const HeadStrides& s) {
  return {static_cast<T*>(p), s.batch, s.token, s.head};
}

// Whether bf16 attention with this head dim runs on the tensor cores (see the top of the file).
bool useTensorCores(DType dtype, int64_t headDim) {
  if (dtype != DType::BF16 || headDim > 128) return false;
  const char* mode = std::getenv("VIT22B_CUDA_ATTENTION");
  return !(mode && std::strcmp(mode, "simt") == 0);
}

// Raises the kernel's dynamic shared memory limit (above the default 48 KiB) and launches it.
// The attribute is per device, so it is set on every launch (a cheap host-side call).
template <typename Params>
void launchBytes(void (*kernel)(Params), int64_t bh, int64_t blocksY, size_t bytes,
                 cudaStream_t stream, const Params& params, const char* name) {
  cudaError_t st = cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(bytes));
  if (st != cudaSuccess) {
    cudaGetLastError();  // clear it: the failure is reported here, not at the next launch
    throw Error(isStickyError(st) ? ErrorCode::DeviceLost : ErrorCode::CudaError,
                std::string(name) + ": cannot give the kernel " + std::to_string(bytes) +
                    " bytes of shared memory: " + cudaGetErrorString(st),
                "cudaSuccess", cudaGetErrorName(st));
  }
  dim3 grid(static_cast<unsigned>(bh), static_cast<unsigned>(blocksY));
  kernel<<<grid, attn::kThreads, bytes, stream>>>(params);
  checkLaunch(name);
}

template <typename Params>
void launch(void (*kernel)(Params), int64_t bh, int64_t blocksY, int smemFloats,
            cudaStream_t stream, const Params& params, const char* name) {
  launchBytes(kernel, bh, blocksY, static_cast<size_t>(smemFloats) * sizeof(float), stream, params,
              name);
}

// The forward kernels' parameters, the same for the CUDA-core and tensor-core paths.
template <typename T>
FwdParams<T> fwdParams(const AttentionFwdArgs& a) {
  return {a.heads,
          a.tq,
          a.tk,
          static_cast<int>(a.headDim),
          a.scale,
          operandIn<T>(a.q, a.qStrides),
          operandIn<T>(a.k, a.kStrides),
          operandIn<T>(a.v, a.vStrides),
          operandOut<T>(a.o, a.oStrides),
          a.lse};
}

template <typename T, int DH, int BQ, int BK>
void forward(cudaStream_t stream, const AttentionFwdArgs& a) {
  const FwdParams<T> p = fwdParams<T>(a);
  launch(attn::attentionFwdKernel<T, DH, BQ, BK>, a.batch * a.heads, ceilDiv(a.tq, BQ),
         attn::fwdSmemFloats<DH, BQ, BK>(), stream, p, "attention_fwd");
}

template <int DH>
void forwardTc(cudaStream_t stream, const AttentionFwdArgs& a) {
  const FwdParams<uint16_t> p = fwdParams<uint16_t>(a);
  launchBytes(attn::attentionFwdTcKernel<DH>, a.batch * a.heads, ceilDiv(a.tq, attn::kTcRows),
              attn::tcFwdSmemBytes<DH>(), stream, p, "attention_fwd (tensor cores)");
}

template <typename T>
void forwardFor(cudaStream_t stream, const AttentionFwdArgs& a) {
  if (useTensorCores(a.dtype, a.headDim)) {
    if (a.headDim <= 32) return forwardTc<32>(stream, a);
    if (a.headDim <= 64) return forwardTc<64>(stream, a);
    return forwardTc<128>(stream, a);
  }
  if (a.headDim <= 32) return forward<T, 32, 64, 64>(stream, a);
  if (a.headDim <= 64) return forward<T, 64, 64, 64>(stream, a);
  if (a.headDim <= 128) return forward<T, 128, 64, 32>(stream, a);
  return forward<T, 256, 32, 32>(stream, a);
}

template <typename T>
BwdParams<T> bwdParams(const AttentionBwdArgs& a) {
  return {a.heads,
          a.tq,
          a.tk,
          static_cast<int>(a.headDim),
          a.scale,
          operandIn<T>(a.q, a.qStrides),
          operandIn<T>(a.k, a.kStrides),
          operandIn<T>(a.v, a.vStrides),
          operandIn<T>(a.o, a.oStrides),
          operandIn<T>(a.dO, a.dOStrides),
          a.lse,
          operandOut<T>(a.dQ, a.dQStrides),
          operandOut<T>(a.dK, a.dKStrides),
          operandOut<T>(a.dV, a.dVStrides)};
}

template <typename T, int DH, int BQ1, int BK1, int BQ2, int BK2>
void backward(cudaStream_t stream, const AttentionBwdArgs& a) {
  BwdParams<T> p = bwdParams<T>(a);
  int64_t bh = a.batch * a.heads;
  launch(attn::attentionDkDvKernel<T, DH, BQ1, BK1>, bh, ceilDiv(a.tk, BK1),
         attn::dkdvSmemFloats<DH, BQ1, BK1>(), stream, p, "attention_bwd (dK, dV)");
  if (a.tq > 0) {
    launch(attn::attentionDqKernel<T, DH, BQ2, BK2>, bh, ceilDiv(a.tq, BQ2),
           attn::dqSmemFloats<DH, BQ2, BK2>(), stream, p, "attention_bwd (dQ)");
  }
}

template <int DH>
void backwardTc(cudaStream_t stream, const AttentionBwdArgs& a) {
  BwdParams<uint16_t> p = bwdParams<uint16_t>(a);
  int64_t bh = a.batch * a.heads;
  launchBytes(attn::attentionDkDvTcKernel<DH>, bh, ceilDiv(a.tk, attn::kTcRows),
              attn::tcDkDvSmemBytes<DH>(), stream, p, "attention_bwd (dK, dV; tensor cores)");
  if (a.tq > 0) {
    launchBytes(attn::attentionDqTcKernel<DH>, bh, ceilDiv(a.tq, attn::kTcRows),
                attn::tcDqSmemBytes<DH>(), stream, p, "attention_bwd (dQ; tensor cores)");
  }
}

template <typename T>
void backwardFor(cudaStream_t stream, const AttentionBwdArgs& a) {
  if (useTensorCores(a.dtype, a.headDim)) {
    if (a.headDim <= 32) return backwardTc<32>(stream, a);
    if (a.headDim <= 64) return backwardTc<64>(stream, a);
    return backwardTc<128>(stream, a);
  }
  if (a.headDim <= 32) return backward<T, 32, 32, 64, 64, 64>(stream, a);
  if (a.headDim <= 64) return backward<T, 64, 32, 64, 64, 64>(stream, a);
  if (a.headDim <= 128) return backward<T, 128, 32, 32, 64, 32>(stream, a);
  return backward<T, 256, 32, 16, 32, 16>(stream, a);
}

}  // namespace

void attentionFwd(Stream stream, const AttentionFwdArgs& a) {
  requireStorage(a.dtype, "attention_fwd");
  checkSizes(a.batch, a.heads, a.tq, a.tk, a.headDim, "attention_fwd");
  if (a.batch * a.heads * a.tq == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return forwardFor<float>(s, a);
  return forwardFor<uint16_t>(s, a);
}

void attentionBwd(Stream stream, const AttentionBwdArgs& a) {
  requireStorage(a.dtype, "attention_bwd");
  checkSizes(a.batch, a.heads, a.tq, a.tk, a.headDim, "attention_bwd");
  // Tq = 0 still writes dK = dV = 0 (sums over no queries), as on the CPU.
  if (a.batch * a.heads == 0 || a.tk == 0) return;
  auto s = static_cast<cudaStream_t>(stream.handle);
  if (a.dtype == DType::F32) return backwardFor<float>(s, a);
  return backwardFor<uint16_t>(s, a);
}

}  // namespace vit::cuda
