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

// Dynamic scalar fields. A few float/int fields (axpby alpha/beta, the optimizers' lr, step,
// weightDecay, decay, gradScale) have a companion `<field>Ptr`: nullptr (the default) means "use the
// value field"; otherwise the kernel reads the value from that address in the kernel's memory
// (device memory on CUDA, host memory on the CPU) when the work runs, and ignores the value field.
// The executor uses them on CUDA so a step captured as a CUDA graph picks up each run's learning rate
// and step, and the clip factor computed on the device, without a host round trip. Both backends
// honour them, so the meaning is the same everywhere.

// y = alpha * x + beta * y over n elements of `dtype` (f32 or bf16; bf16 is computed in f32 and
// rounded once on store). Scaling, residual adds and their backward all reduce to this.
struct AxpbyArgs {
  DType dtype;
  int64_t n;
  float alpha;
  const void* x;  // [n]
  float beta;
  void* y;  // [n], read and written
  const float* alphaPtr = nullptr;  // dynamic alpha (see "Dynamic scalar fields")
  const float* betaPtr = nullptr;   // dynamic beta; *betaPtr == 0 still never reads y
};

// Which GELU: the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (JAX's
// default, used by ViT-22B) or the exact x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
enum class GeluForm : uint8_t { Tanh = 0, Erf = 1 };

// What a GEMM does to each output element after alpha/beta. Fused epilogues (bias + GELU, and the
// GELU-gradient ones) will join this list; each is applied once, in f32, before C is rounded.
enum class GemmEpilogue : uint8_t {
  None = 0,
  Bias = 1,  // + bias[j], bias of GemmArgs::biasType (C's dtype, or f32)
  // + bias[j] (bias may be nullptr: none), then GELU (geluForm) on the columns [colBegin, colEnd)
  // only: the fused QKV + MLP-in projection, whose MLP part alone goes through GELU.
  BiasGeluColumns = 2,
};

// Strided-batched GEMM, row-major, for b in [0, batch):
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]   (then the epilogue)
// op(A[b]) is [m, k]: A[b] is stored [m, lda] (transA false) or [k, lda] (transA true); likewise
// op(B[b]) is [k, n] from B[b] stored [k, ldb] or [n, ldb]; C[b] is stored [m, ldc].
// Element strides between batches may be 0 for A or B (one matrix shared by every batch).
// A and B share a storage type (f32 or bf16); C is f32 or bf16 (bf16 A/B with an f32 C included:
// weight gradients written straight into f32 buffers, beta 1 accumulating); accumulation is always
// f32 and C is rounded once. beta == 0 never reads C (the BLAS rule: stale NaNs in C stay out).
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
  const void* bias = nullptr;  // [n] of biasType, for GemmEpilogue::Bias (and BiasGeluColumns)
  // The bias's storage: cType, or f32 with a bf16 C (bf16-mixed training keeps f32 master biases
  // and bf16 activations: the f32 bias is added in f32 before C is rounded, once; on CUDA where
  // cuBLASLt refuses an f32 bias for a bf16 D, C is rounded twice, see cuda/gemm.cu). A bf16 bias
  // with an f32 C is ERR_INVALID_ARGUMENT. Only read when there is a bias. Note the default is f32:
  // a bf16 C with a bf16 bias must say biasType = BF16.
  DType biasType = DType::F32;
  // GemmEpilogue::BiasGeluColumns: 0 <= colBegin <= colEnd <= n.
  int64_t colBegin = 0, colEnd = 0;
  GeluForm geluForm = GeluForm::Tanh;
};

// Where the rows of a [rows, dim] operand lie in memory: row r starts at element
//   (r / groupRows) * groupStride + (r % groupRows) * dim
// groupRows == 0 means dense (row r at r * dim; groupStride is then ignored). Rows within a group
// are adjacent; groups are groupStride elements apart. The per-head QK-norm reads q straight out of
// the fused [B*T, 3D + F] projection output: rows = B*T*H, dim = Dh, groupRows = H,
// groupStride = 3D + F. Valid: groupRows == 0, or groupRows >= 1, rows % groupRows == 0 and
// groupStride >= groupRows * dim (groups never overlap). The elements spanned (what the buffer must
// hold, from the operand's first element): dense rows * dim; grouped
// (rows / groupRows - 1) * groupStride + groupRows * dim, 0 when rows == 0.
struct RowLayout {
  int64_t groupRows = 0;
  int64_t groupStride = 0;
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
  const void* x = nullptr;      // [rows, dim] laid out by xLayout
  const void* scale = nullptr;  // [dim]
  const void* bias = nullptr;   // [dim], or nullptr for none
  void* y = nullptr;            // [rows, dim] laid out by yLayout; elements between rows untouched
  float* mean = nullptr;        // [rows] dense, saved for backward when center; nullptr: not saved
  float* rstd = nullptr;        // [rows] dense, saved for backward; nullptr: not saved
  RowLayout xLayout;            // dense by default
  RowLayout yLayout;            // dense by default
};

// Backward of LayerNormFwd, with xhat = (x - mean) * rstd and g = dy * scale:
//   dx = rstd * (g - mean_D(g) - xhat * mean_D(g * xhat))   (center)
//   dx = rstd * (g - xhat * mean_D(g * xhat))                (!center)
//   dscale = sum_rows(dy * xhat), dbias = sum_rows(dy)   (overwritten, f32)
// The row sums are per-block partial sums over a row blocking that depends only on `rows`, added
// in block order: bitwise the same for every thread count.
// With dresidual, dx = dresidual + (the dx above), added in f32 and rounded once: the residual
// branch's gradient joins the norm's in the same pass (blocks x + f(norm(x))). dx may be dresidual
// itself (the same memory and layout: each element is read before it is written); no other
// operand may alias an output. Layouts (RowLayout) place each [rows, dim] operand's rows; the
// statistics and parameter gradients stay dense, and the results do not depend on the layouts.
struct LayerNormBwdArgs {
  DType dtype = DType::F32;      // x, dy and dx: f32 | bf16
  DType paramType = DType::F32;  // scale: f32 | bf16
  int64_t rows = 0, dim = 0;
  bool center = true;
  const void* x = nullptr;      // [rows, dim] laid out by xLayout
  const void* scale = nullptr;  // [dim]
  const float* mean = nullptr;  // [rows] from the forward (center only; ignored otherwise)
  const float* rstd = nullptr;  // [rows] from the forward
  const void* dy = nullptr;     // [rows, dim] laid out by dyLayout
  void* dx = nullptr;           // [rows, dim] laid out by dxLayout; elements between rows untouched
  float* dscale = nullptr;      // [dim] f32
  float* dbias = nullptr;       // [dim] f32, or nullptr when the forward had no bias
  RowLayout xLayout;            // dense by default
  RowLayout dyLayout;
  RowLayout dxLayout;
  // [rows, dim] of `dtype` laid out by dresidualLayout, added to dx; nullptr: none. May equal dx
  // (then with dxLayout's layout).
  const void* dresidual = nullptr;
  RowLayout dresidualLayout;
};

// y[:, c] = gelu(x[:, c]) for c in [colBegin, colEnd), y[:, c] = x[:, c] elsewhere, on a row-major
// [rows, cols] matrix. The full range [0, cols) is the plain elementwise GELU; a sub-range is the
// fused QKV + MLP-in projection's output, whose MLP part alone goes through GELU. y may be x.
// Rows may be strided, so x and y can be column windows of wider matrices (the fused [B*T, 3D + F]
// projection output): row r of x starts at x + r * xStride, of y at y + r * yStride (elements;
// 0 means cols, i.e. dense; otherwise stride >= cols). Elements between rows are never touched.
// With a bias, inside the range y[r, c] = gelu(x[r, c] + bias[c - colBegin]): the add in f32, y
// rounded once; outside the range y = x as without bias (the bias covers the range only).
// In place (y == x) needs the same start and equal (effective) strides.
struct GeluFwdArgs {
  DType dtype = DType::F32;  // x and y: f32 | bf16
  GeluForm form = GeluForm::Tanh;
  int64_t rows = 0, cols = 0;
  int64_t colBegin = 0, colEnd = 0;  // 0 <= colBegin <= colEnd <= cols
  const void* x = nullptr;  // [rows, cols], rows xStride apart
  void* y = nullptr;        // [rows, cols], rows yStride apart
  int64_t xStride = 0, yStride = 0;  // elements between row starts; 0 = cols (dense)
  const void* bias = nullptr;        // [colEnd - colBegin] of biasType, or nullptr (no bias)
  DType biasType = DType::F32;       // f32 | bf16
};

// dx = dy * gelu'(x [+ bias]) inside the column range, dx = dy outside it. dx may be dy (same
// start, equal strides). Strides and bias as in GeluFwdArgs: inside the range
// dx[r, c] = dy[r, c] * gelu'(x[r, c] + bias[c - colBegin]) (the add in f32).
struct GeluBwdArgs {
  DType dtype = DType::F32;  // x, dy and dx: f32 | bf16
  GeluForm form = GeluForm::Tanh;
  int64_t rows = 0, cols = 0;
  int64_t colBegin = 0, colEnd = 0;
  const void* x = nullptr;   // [rows, cols], rows xStride apart
  const void* dy = nullptr;  // [rows, cols], rows dyStride apart
  void* dx = nullptr;        // [rows, cols], rows dxStride apart
  int64_t xStride = 0, dyStride = 0, dxStride = 0;  // elements; 0 = cols (dense)
  const void* bias = nullptr;                       // [colEnd - colBegin] of biasType, or nullptr
  DType biasType = DType::F32;                      // f32 | bf16
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
// (On CUDA, bf16 with head dims <= 128 takes a tensor-core path that rounds P and dS to bf16 before
// their products, as flash-attention kernels do; VIT22B_CUDA_ATTENTION=simt keeps all math f32.)
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

// Monitoring statistics of attention (the QK-norm stability study; not part of training):
//   s_ij = scale * Q[b, i, h] . K[b, j, h],   p_i = softmax_j(s_i)
//   out[0] = max over (b, h, i, j) of s_ij                      the largest attention logit
//   out[1] = mean over (b, h, i) of -sum_j p_ij log p_ij        the mean attention entropy (nats)
// Every row is computed in f32 from the storage type, and rows are combined in a fixed order, so
// the result does not depend on the number of threads.
struct AttentionStatsArgs {
  DType dtype = DType::F32;  // of Q and K
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, headDim = 0;
  float scale = 1.0f;
  const void* q = nullptr;  // [B, Tq, H, Dh] at qStrides
  HeadStrides qStrides;
  const void* k = nullptr;  // [B, Tk, H, Dh] at kStrides
  HeadStrides kStrides;
  float* out = nullptr;     // [2] f32, written
};

// ---- Losses, metrics, reductions, casts, pooling and patch embedding (issue 3) ----

// Softmax cross-entropy with label smoothing, one row of logits per example, in one pass:
//   q = (1 - epsilon) * onehot(label) + epsilon / C        (the smoothed target)
//   loss[i] = logsumexp(x_i) - sum_j q_j x_ij              (max-subtracted, so any finite logits)
//   dlogits[i, j] = (softmax(x_i)_j - q_j) * dscale / N    (the gradient of dscale * mean(loss))
// Labels must lie in [0, C) (ERR_INVALID_ARGUMENT otherwise on the CPU; on CUDA, where a check would
// cost a device-to-host sync and break graph capture, a bad label makes that row's loss and dlogits
// NaN, which the step's non-finite guard then reports; VIT22B_CUDA_CHECK_INPUTS=1 restores the error). dlogits may be null (loss only) and
// has the logits' dtype; row sums are accumulated in double.
struct SoftmaxXentArgs {
  DType dtype = DType::F32;  // of logits and dlogits: f32 | bf16
  int64_t n = 0, c = 0;
  float epsilon = 0.0f;  // label smoothing, in [0, 1]
  float dscale = 1.0f;
  const void* logits = nullptr;    // [n, c]
  const int32_t* labels = nullptr; // [n]
  float* loss = nullptr;           // [n]
  void* dlogits = nullptr;         // [n, c] or null
};

// Sigmoid (multi-label) cross-entropy: each class is its own binary problem with target
//   t' = (1 - epsilon) * t + epsilon / 2
//   loss[i] = sum_j max(x, 0) - x t' + log1p(exp(-|x|))      (no overflow for any |x|)
//   dlogits[i, j] = (sigmoid(x_ij) - t'_ij) * dscale / N
// Targets must lie in [0, 1] (ERR_INVALID_ARGUMENT otherwise on the CPU; NaN loss on CUDA, as above). dlogits may be null.
struct SigmoidXentArgs {
  DType dtype = DType::F32;  // of logits and dlogits: f32 | bf16
  int64_t n = 0, c = 0;
  float epsilon = 0.0f;
  float dscale = 1.0f;
  const void* logits = nullptr;  // [n, c]
  const float* targets = nullptr;  // [n, c]
  float* loss = nullptr;         // [n]
  void* dlogits = nullptr;       // [n, c] or null
};

// counts[0] = examples whose label is the argmax, counts[1] = examples whose label is among the
// top k. The rank of the label is #{j : x_j > x_label} + #{j < label : x_j == x_label}: ties go to
// the lowest index (as argmax does), and a NaN label logit is never counted. k >= 1.
struct TopkAccuracyArgs {
  DType dtype = DType::F32;  // of logits: f32 | bf16
  int64_t n = 0, c = 0, k = 1;
  const void* logits = nullptr;     // [n, c]
  const int32_t* labels = nullptr;  // [n]
  int32_t* counts = nullptr;        // [2]
};

// out[0] = sum of x (or of x^2 with squares), accumulated in double over fixed blocks that are
// summed in order: accurate for 10^8+ elements and identical for every thread count.
struct ReduceSumArgs {
  DType dtype = DType::F32;  // f32 | bf16
  int64_t n = 0;
  bool squares = false;
  const void* x = nullptr;  // [n]
  float* out = nullptr;     // [1]
};

// out[0] = sqrt(sum over every buffer of sum of squares): the global gradient norm of many
// buffers of mixed sizes and dtypes in one call, deterministic like ReduceSumArgs.
struct GlobalNormArgs {
  int64_t count = 0;
  const DType* dtypes = nullptr;        // [count], f32 | bf16
  const int64_t* sizes = nullptr;       // [count], elements
  const void* const* buffers = nullptr; // [count]
  float* out = nullptr;                 // [1]
  // The CUDA kernel copies nothing from these host arrays to the device (it passes the list in its
  // launch parameters), so the call can be captured in a CUDA graph.
};

// The global-norm clip factor, computed on the device so a step needs no round trip to the host:
//   scale[0] = norm[0] > maxNorm ? maxNorm / norm[0] : 1
// A non-finite norm (NaN, +-inf: an overflowed gradient) gives NaN, so the update it feeds turns the
// parameters NaN and the trainer sees the failure instead of a silently skipped clip.
struct ClipScaleArgs {
  const float* norm = nullptr;  // [1], from GlobalNormArgs::out
  float maxNorm = 1.0f;         // > 0, finite
  float* scale = nullptr;       // [1]
};

// The non-finite guard of a training step: throws ERR_NON_FINITE when any of x[0 .. n) is NaN or
// +-inf, and does nothing otherwise. The training step runs it on the loss and the gradient norm
// BEFORE the optimizer update, so a bad batch fails the whole step while the parameters and the
// optimizer state are still untouched. `what` names the value in the error ("loss", "gradNorm").
struct AssertFiniteArgs {
  int64_t n = 0;
  const float* x = nullptr;  // [n] f32
  const char* what = "";     // owned by the caller for the call
};

// y = x converted: f32 -> bf16 rounds to nearest even and keeps NaNs NaN; bf16 -> f32 is exact;
// equal types copy.
struct CastArgs {
  DType from = DType::F32, to = DType::BF16;  // f32 | bf16 each
  int64_t n = 0;
  const void* x = nullptr;  // [n]
  void* y = nullptr;        // [n]
};

// y[b, d] = mean over t of x[b, t, d] (f32 accumulation in order of t).
struct MeanPoolArgs {
  DType dtype = DType::F32;  // of x and y
  int64_t b = 0, t = 0, d = 0;
  const void* x = nullptr;  // [b, t, d]
  void* y = nullptr;        // [b, d]
};

// dx[b, t, d] = dy[b, d] / T.
struct MeanPoolBwdArgs {
  DType dtype = DType::F32;  // of dy and dx
  int64_t b = 0, t = 0, d = 0;
  const void* dy = nullptr;  // [b, d]
  void* dx = nullptr;        // [b, t, d]
};

// Patchify (forward) and its inverse (backward) between NHWC images and rows of patches:
//   patches[b, gy * (W/p) + gx, (py * p + px) * C + ch] = images[b, gy * p + py, gx * p + px, ch]
// Patches in row-major grid order; inside a patch (py, px, c) order. A timm/PyTorch conv weight
// [D, C, p, p] therefore maps to our GEMM weight [p*p*C, D] via permute(2, 3, 1, 0). H and W must be
// multiples of p. A pure permutation, so the inverse is exact.
struct PatchifyArgs {
  DType dtype = DType::F32;  // f32 | bf16
  int64_t b = 0, h = 0, w = 0, c = 0, p = 1;
  // patchify reads images and writes patches; unpatchify the other way round.
  void* images = nullptr;   // [b, h, w, c]
  void* patches = nullptr;  // [b, (h/p)*(w/p), p*p*c]
};

// x[b, t, d] += pos[t, d], in f32, rounded once to x's dtype. pos may be f32 or bf16.
struct PosEmbedAddArgs {
  DType dtype = DType::F32;     // of x
  DType posDtype = DType::F32;  // of pos
  int64_t b = 0, t = 0, d = 0;
  void* x = nullptr;          // [b, t, d], read and written
  const void* pos = nullptr;  // [t, d]
};

// dpos[t, d] = sum over b of dx[b, t, d] in f32, in a fixed order: b is cut into blocks of
// kPosEmbedBwdRowBlock (256) rows, each block summed in order of b (in groups of four,
// ((r0 + r1) + (r2 + r3)), then one by one), and the block sums added in block order. The blocks let
// a GPU sum a 32768-row bias gradient with thousands of threads, and both backends give the same
// bits whatever their thread count. The gradient of x is dx itself and needs no kernel. Also sum_to's kernel (t = 1): the bias gradient, the sum of dx's
// rows, where dx may be a column window of a wider matrix: row (b, t) of dx starts at
// dx + (b * t_count + t) * dxRowStride (elements; 0 means d, i.e. dense; otherwise >= d).
inline constexpr int64_t kPosEmbedBwdRowBlock = 256;

struct PosEmbedBwdArgs {
  DType dtype = DType::F32;     // of dx
  DType posDtype = DType::F32;  // of dpos
  int64_t b = 0, t = 0, d = 0;
  const void* dx = nullptr;  // [b, t, d], rows dxRowStride apart
  void* dpos = nullptr;      // [t, d]
  int64_t dxRowStride = 0;   // elements between consecutive (b, t) rows of dx; 0 = d (dense)
};

// Copies `batch` runs of `cols` contiguous elements: run i goes from x + i * xStride to
// y + i * yStride (strides in elements). Slices and concatenations along any axis, and broadcasts
// (xStride 0), are all this one pattern: a tensor viewed as [outer, axis * inner] is cut or joined
// along its second dimension. Runs of y must not overlap each other or x.
struct StridedCopyArgs {
  DType dtype = DType::F32;  // f32 | bf16 | i32
  int64_t batch = 0, cols = 0;
  const void* x = nullptr;  // run i at x + i * xStride
  int64_t xStride = 0;
  void* y = nullptr;  // run i at y + i * yStride
  int64_t yStride = 0;
};

// ---- Optimizers (native/cpu/adamw.cc, adafactor.cc). All update in place; f32 master weights.

// Scalars of one AdamW step, shared by every tensor of a multi-tensor call (PyTorch's AdamW):
//   g = gradScale * grad                    (gradScale: the global-norm clip factor, or 1)
//   param *= 1 - lr * weightDecay           (decoupled decay, on the pre-step weights)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
//   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
struct AdamwHyper {
  int64_t step = 1;  // t >= 1, for the bias corrections
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weightDecay = 0.0f;
  float gradScale = 1.0f;
  // Dynamic fields (see "Dynamic scalar fields"); nullptr: use the value above.
  const int64_t* stepPtr = nullptr;
  const float* lrPtr = nullptr;
  const float* weightDecayPtr = nullptr;
  const float* gradScalePtr = nullptr;
};

// One parameter tensor of n elements.
struct AdamwTensor {
  DType gradType = DType::F32;  // f32 | bf16
  int64_t n = 0;
  float* param = nullptr;       // [n] f32 master weights, read and written
  const void* grad = nullptr;   // [n] of gradType
  float* m = nullptr;           // [n] f32 first moment, read and written
  float* v = nullptr;           // [n] f32 second moment, read and written
};

struct AdamwArgs {
  AdamwHyper hyper;
  AdamwTensor tensor;
};

// Many tensors in one call (one launch instead of hundreds per step); the tensors must not overlap.
struct AdamwMultiArgs {
  AdamwHyper hyper;
  int64_t count = 0;
  const AdamwTensor* tensors = nullptr;  // [count], host memory owned by the caller for the call
  // The CUDA kernel keeps the device copy of this list in a cache keyed by its contents, uploaded on
  // the first call (uncaptured): later calls and captured CUDA graphs copy nothing from the host.
};

// One step of Adafactor as used by big_vision for ViT-G / ViT-e / ViT-22B (optax's
// scale_by_factored_rms, then optional block-RMS clipping, then momentum, then lr and decay).
// The full formula is written out in native/cpu/adafactor.cc. The parameter is viewed as a
// matrix [rows, cols] (a vector as [1, n]); `factored` keeps row/column statistics vr/vc instead of
// a full v (big_vision factors when both dims >= 32; the caller decides).
struct AdafactorArgs {
  DType gradType = DType::F32;      // f32 | bf16
  DType momentumType = DType::BF16;  // bf16 (the recipe) | f32
  int64_t rows = 0, cols = 0;
  bool factored = false;
  float* param = nullptr;      // [rows, cols] f32
  const void* grad = nullptr;  // [rows, cols] of gradType
  float* vr = nullptr;         // [rows] f32, factored only
  float* vc = nullptr;         // [cols] f32, factored only
  float* v = nullptr;          // [rows, cols] f32, unfactored only
  void* momentum = nullptr;    // [rows, cols] of momentumType
  float lr = 0.0f;             // the schedule's learning rate at this step
  float lrMult = 1.0f;         // this parameter's learning-rate multiplier
  float weightDecay = 0.0f;    // decoupled, scaled by lr (not by lrMult)
  float beta1 = 0.9f;          // momentum decay (no debiasing)
  float decay = 0.0f;          // beta2_t = min(0.999, 1 - t^-0.8), computed by the caller
  float eps = 1e-30f;          // epsilon1, added to grad^2
  float gradScale = 1.0f;      // the global-norm clip factor, or 1
  float clipThreshold = 0.0f;  // block-RMS update clipping; 0 = off (the recipe)
  // Dynamic fields (see "Dynamic scalar fields"); nullptr: use the value above.
  const float* lrPtr = nullptr;
  const float* weightDecayPtr = nullptr;
  const float* decayPtr = nullptr;
  const float* gradScalePtr = nullptr;
};

// ---- Random numbers (native/cpu/random.cc): Philox4x32-10 (Salmon et al., SC'11).

// Raw Philox output: block b (0 <= b < blocks) is philox(counter + b, key), counter a 128-bit
// little-endian integer of four u32 words (carries propagate), out[4b .. 4b+3] its four words.
struct PhiloxArgs {
  uint32_t key[2] = {0, 0};
  uint32_t counter[4] = {0, 0, 0, 0};
  int64_t blocks = 0;
  uint32_t* out = nullptr;  // [4 * blocks]
};

enum class InitDistribution : uint8_t {
  Constant = 0,         // a
  Uniform = 1,          // [a, b)
  Normal = 2,           // mean a, std b
  TruncatedNormal = 3,  // mean a, std b of the untruncated normal, cut at a +- 2b
};

// Fills n elements with values that depend only on (seed, offset, start + i): element g of a
// stream is word g % 4 of philox(counter = [lo(g/4), hi(g/4), lo(offset), hi(offset)],
// key = [lo(seed), hi(seed)]), turned into a value by a fixed formula (native/core/random_dist.h)
// that the CUDA backend shares bit for bit. `start` lets a shard generate its slice of a tensor.
struct RandomInitArgs {
  DType dtype = DType::F32;  // f32 | bf16
  InitDistribution dist = InitDistribution::Normal;
  uint64_t seed = 0, offset = 0, start = 0;
  int64_t n = 0;
  float a = 0.0f, b = 1.0f;
  void* out = nullptr;  // [n]
};

// X(Id, function name, argument struct)
#define VIT_KERNELS(X)          \
  X(Axpby, axpby, AxpbyArgs)    \
  X(Gemm, gemm, GemmArgs)        \
  X(AttentionFwd, attentionFwd, AttentionFwdArgs) \
  X(AttentionBwd, attentionBwd, AttentionBwdArgs) \
  X(AttentionStats, attentionStats, AttentionStatsArgs) \
  X(SoftmaxXent, softmaxXent, SoftmaxXentArgs) \
  X(SigmoidXent, sigmoidXent, SigmoidXentArgs) \
  X(TopkAccuracy, topkAccuracy, TopkAccuracyArgs) \
  X(ReduceSum, reduceSum, ReduceSumArgs) \
  X(GlobalNorm, globalNorm, GlobalNormArgs) \
  X(ClipScale, clipScale, ClipScaleArgs) \
  X(AssertFinite, assertFinite, AssertFiniteArgs) \
  X(Cast, cast, CastArgs) \
  X(MeanPool, meanPool, MeanPoolArgs) \
  X(MeanPoolBwd, meanPoolBwd, MeanPoolBwdArgs) \
  X(Patchify, patchify, PatchifyArgs) \
  X(Unpatchify, unpatchify, PatchifyArgs) \
  X(PosEmbedAdd, posEmbedAdd, PosEmbedAddArgs) \
  X(PosEmbedBwd, posEmbedBwd, PosEmbedBwdArgs) \
  X(Adamw, adamw, AdamwArgs)     \
  X(AdamwMulti, adamwMulti, AdamwMultiArgs) \
  X(Adafactor, adafactor, AdafactorArgs) \
  X(Philox, philox, PhiloxArgs)  \
  X(RandomInit, randomInit, RandomInitArgs) \
  X(LayerNormFwd, layerNormFwd, LayerNormFwdArgs) \
  X(LayerNormBwd, layerNormBwd, LayerNormBwdArgs) \
  X(GeluFwd, geluFwd, GeluFwdArgs) \
  X(GeluBwd, geluBwd, GeluBwdArgs) \
  X(StridedCopy, stridedCopy, StridedCopyArgs)

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
