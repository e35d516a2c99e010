// THE list of kernels. Each kernel has one argument struct, declared here once, and one
// implementation per backend with the same signature: cpu/<op>.cc and cuda/<op>.cu.
// The executor (native/exec) fills the argument structs from a Plan and calls through a
// KernelTable, so adding a kernel means: an entry in VIT_KERNELS, its struct, and the two files.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace vit {

// Where a kernel runs: a cudaStream_t on CUDA; on the CPU the cpu::ThreadPool that runs it
// (nullptr means the process-wide default pool).
struct Stream {
  void* handle = nullptr;
};

// y = alpha * x + beta * y over n elements of `dtype` (f32 or bf16; bf16 is computed in f32 and
// rounded once on store). Scaling, residual adds and their backward all reduce to this.
struct AxpbyArgs {
  DType dtype;
  int64_t n;
  float alpha;
  const void* x;  // [n]
  float beta;
  void* y;  // [n], read and written
};

// What a GEMM does to each output element after alpha/beta. Fused epilogues (bias + GELU, and the
// GELU-gradient ones) will join this list; each is applied once, in f32, before C is rounded.
enum class GemmEpilogue : uint8_t {
  None = 0,
  Bias = 1,  // + bias[j], bias of C's dtype
};

// Strided-batched GEMM, row-major, for b in [0, batch):
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]   (then the epilogue)
// op(A[b]) is [m, k]: A[b] is stored [m, lda] (transA false) or [k, lda] (transA true); likewise
// op(B[b]) is [k, n] from B[b] stored [k, ldb] or [n, ldb]; C[b] is stored [m, ldc].
// Element strides between batches may be 0 for A or B (one matrix shared by every batch).
// A and B share a storage type (f32 or bf16); C is f32 or bf16; accumulation is always f32 and C
// is rounded once. beta == 0 never reads C (the BLAS rule: stale NaNs in C do not leak in).
// Results do not depend on the number of threads.
struct GemmArgs {
  DType abType = DType::F32;  // f32 | bf16
  DType cType = DType::F32;   // f32 | bf16
  bool transA = false;
  bool transB = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  float alpha = 1.0f;
  float beta = 0.0f;
  const void* a = nullptr;  // [batch][m or k rows, lda]
  int64_t lda = 0, strideA = 0;
  const void* b = nullptr;  // [batch][k or n rows, ldb]
  int64_t ldb = 0, strideB = 0;
  void* c = nullptr;  // [batch][m, ldc], read (beta != 0) and written
  int64_t ldc = 0, strideC = 0;
  GemmEpilogue epilogue = GemmEpilogue::None;
  const void* bias = nullptr;  // [n] of cType, for GemmEpilogue::Bias
};

// Where one [B, T, H, Dh] operand of attention lives: element (b, t, h, d) is at
//   data[b * batchStride + t * tokenStride + h * headStride + d]   (strides in elements).
// A dense [B, T, H, Dh] tensor has tokenStride H*Dh, headStride Dh; Q, K and V read straight out
// of the fused [B, T, 3D + F] projection output have tokenStride 3D + F and headStride Dh.
struct HeadStrides {
  int64_t batch = 0, token = 0, head = 0;
};

// Fused multi-head attention, forward (flash style: running max and sum over blocks of keys, never
// more than one [query block, key block] tile of scores per thread):
//   O[b, i, h] = sum_j softmax_j(scale * Q[b, i, h] . K[b, j, h]) V[b, j, h]
//   L[b, h, i] = log sum_j exp(scale * Q[b, i, h] . K[b, j, h])    (f32, for the backward)
// Q, K, V, O share one storage type (f32 or bf16); all math is f32 and O is rounded once.
// Tk >= 1 whenever there is work. Results do not depend on the number of threads.
struct AttentionFwdArgs {
  DType dtype = DType::F32;  // of Q, K, V, O
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, headDim = 0;
  float scale = 1.0f;          // usually 1 / sqrt(headDim)
  const void* q = nullptr;     // [B, Tq, H, Dh] at qStrides
  HeadStrides qStrides;
  const void* k = nullptr;     // [B, Tk, H, Dh] at kStrides
  HeadStrides kStrides;
  const void* v = nullptr;     // [B, Tk, H, Dh] at vStrides
  HeadStrides vStrides;
  void* o = nullptr;           // [B, Tq, H, Dh] at oStrides, written
  HeadStrides oStrides;
  float* lse = nullptr;        // [B, H, Tq] dense f32, written
};

// Fused multi-head attention, backward, by recomputation from the forward's L:
//   P = exp(scale * Q K^T - L), D = rowsum(dO * O), dS = P * (dO V^T - D)
//   dQ = scale * dS K, dK = scale * dS^T Q, dV = P^T dO
// dQ, dK and dV are overwritten (not accumulated), each in the storage type, rounded once from f32.
// Every gradient element is summed in a fixed order, so results do not depend on the thread count.
struct AttentionBwdArgs {
  DType dtype = DType::F32;  // of Q, K, V, O, dO, dQ, dK, dV
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, headDim = 0;
  float scale = 1.0f;
  const void* q = nullptr;     // [B, Tq, H, Dh]
  HeadStrides qStrides;
  const void* k = nullptr;     // [B, Tk, H, Dh]
  HeadStrides kStrides;
  const void* v = nullptr;     // [B, Tk, H, Dh]
  HeadStrides vStrides;
  const void* o = nullptr;     // [B, Tq, H, Dh], the forward's output
  HeadStrides oStrides;
  const void* dO = nullptr;    // [B, Tq, H, Dh]
  HeadStrides dOStrides;
  const float* lse = nullptr;  // [B, H, Tq] dense f32, the forward's L
  void* dQ = nullptr;          // [B, Tq, H, Dh], written
  HeadStrides dQStrides;
  void* dK = nullptr;          // [B, Tk, H, Dh], written
  HeadStrides dKStrides;
  void* dV = nullptr;          // [B, Tk, H, Dh], written
  HeadStrides dVStrides;
};

// X(Id, function name, argument struct)
#define VIT_KERNELS(X)          \
  X(Axpby, axpby, AxpbyArgs)    \
  X(Gemm, gemm, GemmArgs)        \
  X(AttentionFwd, attention_fwd, AttentionFwdArgs) \
  X(AttentionBwd, attention_bwd, AttentionBwdArgs)

enum class KernelId : uint16_t {
#define VIT_KERNEL_ENUM(id, fn, args) id,
  VIT_KERNELS(VIT_KERNEL_ENUM)
#undef VIT_KERNEL_ENUM
      Count
};

// Function-pointer table a backend fills in. Kernels report failures by throwing vit::Error.
struct KernelTable {
#define VIT_KERNEL_SLOT(id, fn, args) void (*fn)(Stream, const args&);
  VIT_KERNELS(VIT_KERNEL_SLOT)
#undef VIT_KERNEL_SLOT
};

// Defines `kernelTable()` inside a backend's namespace from the functions declared below.
#define VIT_DEFINE_KERNEL_TABLE()                       \
  const KernelTable& kernelTable() {                    \
    static const KernelTable table = {VIT_KERNELS(VIT_KERNEL_ADDRESS)}; \
    return table;                                       \
  }
#define VIT_KERNEL_ADDRESS(id, fn, args) &fn,

namespace cpu {
#define VIT_KERNEL_DECL(id, fn, args) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cpu

#if VIT22B_WITH_CUDA
namespace cuda {
#define VIT_KERNEL_DECL(id, fn, args) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cuda
#endif

}  // namespace vit
