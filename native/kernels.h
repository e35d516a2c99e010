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

// Which GELU: the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (JAX's
// default, used by ViT-22B) or the exact x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
enum class GeluForm : uint8_t { Tanh = 0, Erf = 1 };

// What a GEMM does to each output element after alpha/beta. Fused epilogues (bias + GELU, and the
// GELU-gradient ones) will join this list; each is applied once, in f32, before C is rounded.
enum class GemmEpilogue : uint8_t {
  None = 0,
  Bias = 1,  // + bias[j], bias of C's dtype
  // + bias[j] (bias may be nullptr: none), then GELU (geluForm) on the columns [colBegin, colEnd)
  // only: the fused QKV + MLP-in projection, whose MLP part alone goes through GELU.
  BiasGeluColumns = 2,
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
  const void* bias = nullptr;  // [n] of cType, for GemmEpilogue::Bias (and BiasGeluColumns)
  // GemmEpilogue::BiasGeluColumns: 0 <= colBegin <= colEnd <= n.
  int64_t colBegin = 0, colEnd = 0;
  GeluForm geluForm = GeluForm::Tanh;
};

// Normalization of each row over its last dimension (D), with a learnable scale [D]:
//   center:  mu = mean(x), var = mean((x - mu)^2)    (LayerNorm)
//   !center: mu = 0,       var = mean(x^2)           (RMSNorm: the ViT-22B norms, no bias)
//   rstd = 1 / sqrt(var + eps);  y = (x - mu) * rstd * scale (+ bias)
// The per-head QK-norm is the same kernel: x [B, T, H, Dh] is rows = B*T*H, dim = Dh, with one
// scale [Dh] shared by every head. Statistics are computed in f32 from the storage type; y is
// rounded once. Rows are independent, so results do not depend on the thread count.
struct LayerNormFwdArgs {
  DType dtype = DType::F32;      // x and y: f32 | bf16
  DType paramType = DType::F32;  // scale and bias: f32 | bf16
  int64_t rows = 0, dim = 0;
  float eps = 1e-6f;  // > 0
  bool center = true;
  const void* x = nullptr;      // [rows, dim]
  const void* scale = nullptr;  // [dim]
  const void* bias = nullptr;   // [dim], or nullptr for none
  void* y = nullptr;            // [rows, dim]
  float* mean = nullptr;        // [rows], saved for backward when center; nullptr: not saved
  float* rstd = nullptr;        // [rows], saved for backward; nullptr: not saved
};

// Backward of LayerNormFwd, with xhat = (x - mean) * rstd and g = dy * scale:
//   dx = rstd * (g - mean_D(g) - xhat * mean_D(g * xhat))   (center)
//   dx = rstd * (g - xhat * mean_D(g * xhat))                (!center)
//   dscale = sum_rows(dy * xhat), dbias = sum_rows(dy)   (overwritten, f32)
// The row sums are per-block partial sums over a row blocking that depends only on `rows`, added
// in block order: bitwise the same for every thread count.
struct LayerNormBwdArgs {
  DType dtype = DType::F32;      // x, dy and dx: f32 | bf16
  DType paramType = DType::F32;  // scale: f32 | bf16
  int64_t rows = 0, dim = 0;
  bool center = true;
  const void* x = nullptr;      // [rows, dim]
  const void* scale = nullptr;  // [dim]
  const float* mean = nullptr;  // [rows] from the forward (center only; ignored otherwise)
  const float* rstd = nullptr;  // [rows] from the forward
  const void* dy = nullptr;     // [rows, dim]
  void* dx = nullptr;           // [rows, dim]
  float* dscale = nullptr;      // [dim] f32
  float* dbias = nullptr;       // [dim] f32, or nullptr when the forward had no bias
};

// y[:, c] = gelu(x[:, c]) for c in [colBegin, colEnd), y[:, c] = x[:, c] elsewhere, on a row-major
// [rows, cols] matrix. The full range [0, cols) is the plain elementwise GELU; a sub-range is the
// fused QKV + MLP-in projection's output, whose MLP part alone goes through GELU. y may be x.
struct GeluFwdArgs {
  DType dtype = DType::F32;  // x and y: f32 | bf16
  GeluForm form = GeluForm::Tanh;
  int64_t rows = 0, cols = 0;
  int64_t colBegin = 0, colEnd = 0;  // 0 <= colBegin <= colEnd <= cols
  const void* x = nullptr;  // [rows, cols]
  void* y = nullptr;        // [rows, cols]
};

// dx = dy * gelu'(x) inside the column range, dx = dy outside it. dx may be dy.
struct GeluBwdArgs {
  DType dtype = DType::F32;  // x, dy and dx: f32 | bf16
  GeluForm form = GeluForm::Tanh;
  int64_t rows = 0, cols = 0;
  int64_t colBegin = 0, colEnd = 0;
  const void* x = nullptr;   // [rows, cols]
  const void* dy = nullptr;  // [rows, cols]
  void* dx = nullptr;        // [rows, cols]
};

// X(Id, function name, argument struct)
#define VIT_KERNELS(X)          \
  X(Axpby, axpby, AxpbyArgs)    \
  X(Gemm, gemm, GemmArgs)        \
  X(LayerNormFwd, layerNormFwd, LayerNormFwdArgs) \
  X(LayerNormBwd, layerNormBwd, LayerNormBwdArgs) \
  X(GeluFwd, geluFwd, GeluFwdArgs) \
  X(GeluBwd, geluBwd, GeluBwdArgs)

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
