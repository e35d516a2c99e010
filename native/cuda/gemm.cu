// Strided-batched GEMM on the GPU through cuBLASLt (dlopen'ed, native/cuda/vendor_libraries.*),
// with exactly the semantics of the CPU backend (native/cpu/gemm.cc, lib/kernels/gemm.ts GemmArgs).
//
// Row-major through a column-major library. cuBLASLt is column-major: a row-major R x C matrix X
// stored with leading dimension ld is, read column-major with the same ld, the C x R matrix X^T.
// So the row-major C = op(A) op(B) we want is, read column-major, C^T = op(B)^T op(A)^T: we ask
// cuBLASLt for D' = op'(B') op'(A') with
//   cuBLASLt "A" := our B, rows x cols = transB ? k x n : n x k, ld = ldb, op = transB ? T : N
//   cuBLASLt "B" := our A, rows x cols = transA ? m x k : k x m, ld = lda, op = transA ? T : N
//   cuBLASLt C/D := our C, rows x cols = n x m,                 ld = ldc
// (Check for transB false: B stored [k, ldb] reads column-major as B^T, n x k, which is op(B)^T,
// so no transpose; with transB, B stored [n, ldb] reads as k x n = op(B), so transposing gives
// op(B)^T. Likewise for A.) A row of our C is a column of D', so the bias, indexed by our column j,
// is cuBLASLt's per-row-of-D bias: exactly CUBLASLT_EPILOGUE_BIAS, bias length n = rows of D'.
//
// Numerics: f32 accumulation always (CUBLAS_COMPUTE_32F; bf16 inputs use bf16 tensor cores with
// f32 accumulation). f32 inputs do NOT use TF32 by default, so results match the CPU to f32
// rounding; VIT22B_CUDA_TF32=1 allows CUBLAS_COMPUTE_32F_FAST_TF32 (about 3x the f32 throughput on
// A100/H100, inputs rounded to 10 mantissa bits). alpha and beta are f32 (scale type f32); cuBLASLt
// computes D = epilogue(alpha * A B + beta * C) and, as BLAS, does not read C when beta == 0.
//
// Epilogues (lib/kernels/enums.ts GemmEpilogue):
//   Bias            -> CUBLASLT_EPILOGUE_BIAS: bias elements of D's type (the default of
//                      CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, -1 = Dtype, for f32 and bf16 outputs)
//                      for a bias of C's dtype; BIAS_BATCH_STRIDE 0 shares it across batches, as
//                      on the CPU. An f32 bias on a bf16 C (GemmArgs::biasType, bf16-mixed
//                      training) sets BIAS_DATA_TYPE = CUDA_R_32F: the cuBLASLt docs list only
//                      IMMA and FP8 kernels as exceptions to "bias of D's type", so this may be
//                      refused (no heuristic result, or a failing matmul); it then takes the
//                      fallback below, where our kernel adds the f32 bias in f32 to the bf16 C
//                      cuBLASLt wrote (two roundings of C, as for a GELU column range).
//   BiasGeluColumns -> over all columns in the tanh form: CUBLASLT_EPILOGUE_GELU_BIAS (or _GELU
//                      without a bias); cuBLASLt's GELU is the tanh approximation, applied in f32
//                      before D is rounded. Otherwise (a column range, or the erf form) the GEMM
//                      with the bias epilogue, then our kernel (gemm_epilogue.cu) applies the CPU's
//                      GELU to the range in place. For a bf16 C that rounds C twice (once by
//                      cuBLASLt, once after GELU) where the CPU rounds once: a difference of about
//                      one bf16 ulp of the GELU input, well inside bf16 training noise.
// f32 inputs with a bf16 C: not a combination of cuBLASLt's documented type table for
// CUBLAS_COMPUTE_32F (f32 inputs go with an f32 output), so cuBLASLt writes alpha A B in f32 to a
// per-stream scratch buffer and gemm_epilogue.cu adds beta C, the bias and GELU and rounds once.
// Fallbacks, each cached with the plan so that it costs one heuristic query: a bias pointer that is
// not 16-byte aligned is never handed to cuBLASLt (its epilogue kernels load it vectorized), and an
// epilogue for which the heuristic has no algorithm is dropped; the bias (and GELU) then go through
// gemm_epilogue.cu after a plain GEMM. A shape with no algorithm even without an epilogue is
// ERR_CUDA naming the shape (there is no hand-written fallback GEMM).
//
// Caching: one cublasLtHandle_t per device and one 32 MiB workspace per stream
// (cublaslt_context.h). Per device, a plan (matmul descriptor, the three layouts, the chosen
// algorithm) is cached under everything the heuristic looks at: dtypes, transposes, m, n, k, batch,
// leading dimensions, batch strides, epilogue, the operands' address alignments and the TF32
// switch. A training step has fixed shapes and addresses, so only its first step queries the
// heuristic.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "core/status.h"
#include "cuda/cublaslt_context.h"
#include "cuda/cuda_backend.h"
#include "cuda/gemm_epilogue.h"
#include "cuda/gemm_stats.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

// cuBLASLt's batch count is an int32_t; batches are run in chunks of at most this many so that no
// kernel grid dimension can overflow whatever the library does with it.
constexpr int64_t kMaxBatchPerCall = 65535;
// Plans kept per device before the cache is emptied and rebuilt (a guard against unbounded growth
// when shapes never repeat; a model has a few dozen).
constexpr size_t kMaxPlansPerDevice = 4096;
// A bias pointer below this alignment is applied by our own kernel instead of cuBLASLt's epilogue.
constexpr uint32_t kMinBiasAlignment = 16;

std::atomic<int64_t> gHeuristicQueries{0};
std::atomic<int64_t> gPlans{0};

bool tf32Allowed() {
  static const bool allowed = [] {
    const char* v = std::getenv("VIT22B_CUDA_TF32");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return allowed;
}

cudaDataType_t cudaTypeOf(DType t) { return t == DType::F32 ? CUDA_R_32F : CUDA_R_16BF; }

// The largest power of two (at most 256) dividing the address of every batch's matrix: the
// lowest set bit of (base | stride in bytes).
uint32_t alignmentOf(const void* base, int64_t strideBytes) {
  uintptr_t bits = reinterpret_cast<uintptr_t>(base) | static_cast<uintptr_t>(strideBytes);
  uint32_t align = 256;
  while (align > 1 && (bits & (align - 1)) != 0) align >>= 1;
  return align;
}

bool epilogueHasBias(uint32_t e) { return e == kLtEpilogueBias || e == kLtEpilogueGeluBias; }
bool epilogueHasGelu(uint32_t e) { return e == kLtEpilogueGelu || e == kLtEpilogueGeluBias; }

struct PlanKey {
  DType abType, cType;
  DType biasType;  // the bias's storage when the epilogue has one, else cType (meaningless)
  bool transA, transB, tf32;
  int64_t m, n, k, batch, lda, ldb, ldc, strideA, strideB, strideC;
  uint32_t epilogue;  // the epilogue asked for; the plan may have dropped it (Plan::epilogue)
  uint32_t alignA, alignB, alignC, alignBias;

  auto tie() const {
    return std::tie(abType, cType, biasType, transA, transB, tf32, m, n, k, batch, lda, ldb, ldc,
                    strideA, strideB, strideC, epilogue, alignA, alignB, alignC, alignBias);
  }
  bool operator<(const PlanKey& o) const { return tie() < o.tie(); }
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t ltA = nullptr;  // our B
  cublasLtMatrixLayout_t ltB = nullptr;  // our A
  cublasLtMatrixLayout_t ltC = nullptr;  // our C (and D)
  cublasLtMatmulAlgo_t algo{};
  uint32_t epilogue = kLtEpilogueDefault;  // what cuBLASLt applies
};

void destroyPlan(const CublasLt& lt, Plan& p) {
  if (p.desc) lt.matmulDescDestroy(p.desc);
  for (cublasLtMatrixLayout_t l : {p.ltA, p.ltB, p.ltC}) {
    if (l) lt.matrixLayoutDestroy(l);
  }
  p = Plan{};
}

struct DeviceCache {
  std::map<PlanKey, std::unique_ptr<Plan>> plans;
};

std::mutex gCachesMutex;
DeviceCache& deviceCache(int ordinal) {
  static auto* caches = new std::map<int, DeviceCache>();  // never destroyed, like the handles
  std::lock_guard<std::mutex> lock(gCachesMutex);
  return (*caches)[ordinal];  // std::map: the address stays valid as other devices are added
}

std::string shapeText(const PlanKey& k) {
  return std::string(dtypeName(k.abType)) + " x " + dtypeName(k.abType) + " -> " +
         dtypeName(k.cType) + ", m=" + std::to_string(k.m) + " n=" + std::to_string(k.n) +
         " k=" + std::to_string(k.k) + " batch=" + std::to_string(k.batch) +
         (k.transA ? " transA" : "") + (k.transB ? " transB" : "") +
         ", lda=" + std::to_string(k.lda) + " ldb=" + std::to_string(k.ldb) +
         " ldc=" + std::to_string(k.ldc) + ", alignments A/B/C " + std::to_string(k.alignA) +
         "/" + std::to_string(k.alignB) + "/" + std::to_string(k.alignC) + " bytes";
}

cublasLtMatrixLayout_t makeLayout(const CublasLt& lt, DType type, int64_t rows, int64_t cols,
                                  int64_t ld, int64_t batch, int64_t stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  checkCublas(lt.matrixLayoutCreate(&layout, cudaTypeOf(type), static_cast<uint64_t>(rows),
                                    static_cast<uint64_t>(cols), ld),
              "cublasLtMatrixLayoutCreate");
  if (batch > 1) {
    int32_t count = static_cast<int32_t>(batch);
    int64_t offset = stride;  // elements; 0 shares one matrix across the batch
    cublasStatus_t st =
        lt.matrixLayoutSetAttribute(layout, kLtLayoutBatchCount, &count, sizeof count);
    if (st == kCublasSuccess) {
      st = lt.matrixLayoutSetAttribute(layout, kLtLayoutStridedBatchOffset, &offset, sizeof offset);
    }
    if (st != kCublasSuccess) {
      lt.matrixLayoutDestroy(layout);
      checkCublas(st, "cublasLtMatrixLayoutSetAttribute");
    }
  }
  return layout;
}

// (Re)creates the matmul descriptor of `p` for `epilogue` and asks the heuristic for an algorithm.
// False when it has none (the caller drops the epilogue or reports the shape); throws on errors.
bool chooseAlgorithm(const CublasLt& lt, CublasLtDevice& ctx, const PlanKey& key, Plan& p,
                     uint32_t epilogue, const void* bias) {
  if (p.desc) {
    lt.matmulDescDestroy(p.desc);
    p.desc = nullptr;
  }
  const int32_t compute =
      key.abType == DType::F32 && key.tf32 ? kCublasCompute32FFastTf32 : kCublasCompute32F;
  checkCublas(lt.matmulDescCreate(&p.desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const int32_t opA = key.transB ? kCublasOpT : kCublasOpN;  // cuBLASLt's A is our B
  const int32_t opB = key.transA ? kCublasOpT : kCublasOpN;  // cuBLASLt's B is our A
  auto set = [&](int32_t attr, const void* value, size_t bytes) {
    checkCublas(lt.matmulDescSetAttribute(p.desc, attr, value, bytes),
                "cublasLtMatmulDescSetAttribute");
  };
  set(kLtMatmulDescTransA, &opA, sizeof opA);
  set(kLtMatmulDescTransB, &opB, sizeof opB);
  set(kLtMatmulDescEpilogue, &epilogue, sizeof epilogue);
  if (epilogueHasBias(epilogue)) {
    // The heuristic reads the pointer's alignment from here, so the real pointer goes in now.
    set(kLtMatmulDescBiasPointer, &bias, sizeof bias);
    if (key.biasType != key.cType) {
      // An f32 bias on a bf16 D. A library that does not know the attribute refuses it here: then
      // this epilogue has no algorithm, like one the heuristic refuses.
      const int32_t biasType = cudaTypeOf(key.biasType);
      if (lt.matmulDescSetAttribute(p.desc, kLtMatmulDescBiasDataType, &biasType,
                                    sizeof biasType) != kCublasSuccess) {
        return false;
      }
    }
  }

  cublasLtMatmulPreference_t pref = nullptr;
  checkCublas(lt.matmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  cublasLtMatmulHeuristicResult_t results[4] = {};
  int returned = 0;
  cublasStatus_t st = kCublasSuccess;
  auto setPref = [&](int32_t attr, const void* value, size_t bytes) {
    if (st == kCublasSuccess) st = lt.matmulPreferenceSetAttribute(pref, attr, value, bytes);
  };
  const uint64_t workspace = kCublasLtWorkspaceBytes;
  setPref(kLtPrefMaxWorkspaceBytes, &workspace, sizeof workspace);
  setPref(kLtPrefMinAlignmentABytes, &key.alignB, sizeof key.alignB);  // cuBLASLt's A: our B
  setPref(kLtPrefMinAlignmentBBytes, &key.alignA, sizeof key.alignA);  // cuBLASLt's B: our A
  setPref(kLtPrefMinAlignmentCBytes, &key.alignC, sizeof key.alignC);
  setPref(kLtPrefMinAlignmentDBytes, &key.alignC, sizeof key.alignC);
  if (st == kCublasSuccess) {
    gHeuristicQueries.fetch_add(1, std::memory_order_relaxed);
    st = lt.matmulAlgoGetHeuristic(ctx.handle, p.desc, p.ltA, p.ltB, p.ltC, p.ltC, pref, 4,
                                   results, &returned);
  }
  lt.matmulPreferenceDestroy(pref);
  if (st == kCublasStatusNotSupported) return false;  // no heuristic for this configuration
  checkCublas(st, "cublasLtMatmulAlgoGetHeuristic");
  for (int i = 0; i < returned; ++i) {
    if (results[i].state == kCublasSuccess && results[i].workspaceSize <= kCublasLtWorkspaceBytes) {
      p.algo = results[i].algo;
      p.epilogue = epilogue;
      return true;
    }
  }
  return false;
}

// Picks the first of `wanted`, then the same without GELU, then no epilogue, that has an algorithm.
void chooseWithFallback(const CublasLt& lt, CublasLtDevice& ctx, const PlanKey& key, Plan& p,
                        uint32_t wanted, const void* bias) {
  uint32_t order[3] = {wanted, wanted == kLtEpilogueGeluBias ? kLtEpilogueBias : kLtEpilogueDefault,
                       kLtEpilogueDefault};
  uint32_t tried = 0;  // bitmask of epilogues already tried (values are < 64)
  for (uint32_t e : order) {
    if (tried & (1u << e)) continue;
    tried |= 1u << e;
    if (chooseAlgorithm(lt, ctx, key, p, e, bias)) return;
  }
  throw Error(ErrorCode::CudaError, "cuBLASLt has no algorithm for this gemm: " + shapeText(key),
              "an algorithm from cublasLtMatmulAlgoGetHeuristic",
              cublasStatusName(kCublasStatusNotSupported));
}

Plan& findOrBuildPlan(const CublasLt& lt, CublasLtDevice& ctx, DeviceCache& cache,
                      const PlanKey& key, const void* bias) {
  auto it = cache.plans.find(key);
  if (it != cache.plans.end()) return *it->second;
  if (cache.plans.size() >= kMaxPlansPerDevice) {
    // Enqueued matmuls keep what they need; destroying the descriptors now is safe.
    for (auto& entry : cache.plans) destroyPlan(lt, *entry.second);
    gPlans.fetch_sub(static_cast<int64_t>(cache.plans.size()), std::memory_order_relaxed);
    cache.plans.clear();
  }
  auto plan = std::make_unique<Plan>();
  try {
    // See the top of the file: cuBLASLt's A is our B, its B our A, its C/D our C (n x m).
    const int64_t aRows = key.transB ? key.k : key.n, aCols = key.transB ? key.n : key.k;
    const int64_t bRows = key.transA ? key.m : key.k, bCols = key.transA ? key.k : key.m;
    plan->ltA = makeLayout(lt, key.abType, aRows, aCols, key.ldb, key.batch, key.strideB);
    plan->ltB = makeLayout(lt, key.abType, bRows, bCols, key.lda, key.batch, key.strideA);
    plan->ltC = makeLayout(lt, key.cType, key.n, key.m, key.ldc, key.batch, key.strideC);
    chooseWithFallback(lt, ctx, key, *plan, key.epilogue, bias);
  } catch (...) {
    destroyPlan(lt, *plan);
    throw;
  }
  gPlans.fetch_add(1, std::memory_order_relaxed);
  return *cache.plans.emplace(key, std::move(plan)).first->second;
}

void requireArguments(const GemmArgs& g) {
  if (g.epilogue != GemmEpilogue::None && g.epilogue != GemmEpilogue::Bias &&
      g.epilogue != GemmEpilogue::BiasGeluColumns) {
    throw Error(ErrorCode::InvalidArgument, "gemm epilogue is unknown",
                "None, Bias or BiasGeluColumns", std::to_string(static_cast<int>(g.epilogue)));
  }
  if (g.epilogue == GemmEpilogue::Bias && g.bias == nullptr) {
    throw Error(ErrorCode::InvalidArgument, "gemm Bias epilogue without a bias", "a bias pointer",
                "nullptr");
  }
  // cuBLASLt layouts take int32-sized dimensions ("usually only values that can be expressed as
  // int32_t are supported").
  for (int64_t d : {g.m, g.n, g.k}) {
    if (d < 0 || d > INT32_MAX) {
      throw Error(ErrorCode::InvalidArgument, "gemm dimension out of range for cuBLASLt",
                  "m, n, k in [0, 2^31)", std::to_string(d));
    }
  }
}

}  // namespace

GemmCacheStats gemmCacheStats() {
  GemmCacheStats s;
  s.heuristicQueries = gHeuristicQueries.load(std::memory_order_relaxed);
  s.plans = gPlans.load(std::memory_order_relaxed);
  return s;
}

void gemm(Stream stream, const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  requireArguments(g);
  auto s = static_cast<cudaStream_t>(stream.handle);
  const bool geluColumns = g.epilogue == GemmEpilogue::BiasGeluColumns;
  const bool useBias = g.epilogue == GemmEpilogue::Bias || (geluColumns && g.bias != nullptr);
  const bool gelu = geluColumns && g.geluEnd > g.geluBegin;

  GemmEpilogueArgs post;
  post.cType = g.cType;
  post.m = g.m;
  post.n = g.n;
  post.ldc = g.ldc;
  post.strideC = g.strideC;
  post.form = g.geluForm;
  post.biasType = useBias ? g.biasType : g.cType;
  if (g.k == 0) {
    // No product: C = beta * C (+ bias) (then GELU), all in our kernel; cuBLASLt is not needed.
    post.c = g.c;
    post.batch = g.batch;
    post.scaleByBeta = true;
    post.beta = g.beta;
    post.bias = useBias ? g.bias : nullptr;
    post.colBegin = gelu ? g.geluBegin : 0;
    post.colEnd = gelu ? g.geluEnd : 0;
    launchGemmEpilogue(s, post);
    return;
  }

  const CublasLt& lt = requireCublasLt();
  CublasLtDevice& ctx = cublasLtDevice();
  void* workspace = cublasLtWorkspace(s);
  DeviceCache& cache = deviceCache(ctx.ordinal);

  // f32 x f32 -> bf16 is not in cuBLASLt's type table (f32 inputs pair with an f32 output only):
  // cuBLASLt writes P = alpha A B in f32 to a dense scratch [count][m, n], and
  // our kernel forms C = round(P + beta C (+ bias), GELU) with one rounding, as the CPU does.
  const bool viaScratch = g.abType == DType::F32 && g.cType == DType::BF16;
  int64_t maxCount = kMaxBatchPerCall;
  if (viaScratch) {
    // At most 256 MiB of scratch (or one matrix, if that is larger).
    const int64_t matrixBytes = g.m * g.n * static_cast<int64_t>(sizeof(float));
    maxCount = std::max<int64_t>(1, std::min(maxCount, (int64_t{256} << 20) / matrixBytes));
  }

  // The epilogue to ask cuBLASLt for (it may drop it, see chooseWithFallback).
  const bool biasAligned = useBias && alignmentOf(g.bias, 0) >= kMinBiasAlignment;
  const bool fullTanh = gelu && g.geluBegin == 0 && g.geluEnd == g.n && g.geluForm == GeluForm::Tanh;
  uint32_t wanted = kLtEpilogueDefault;
  if (viaScratch) {
    wanted = kLtEpilogueDefault;  // everything after the product happens in our kernel
  } else if (fullTanh && (!useBias || biasAligned)) {
    wanted = useBias ? kLtEpilogueGeluBias : kLtEpilogueGelu;
  } else if (biasAligned) {
    wanted = kLtEpilogueBias;
  }

  const size_t abSize = dtypeSize(g.abType), cSize = dtypeSize(g.cType);
  for (int64_t b0 = 0; b0 < g.batch; b0 += maxCount) {
    const int64_t count = std::min(maxCount, g.batch - b0);
    const bool batched = count > 1;
    const char* a = static_cast<const char*>(g.a) + b0 * g.strideA * static_cast<int64_t>(abSize);
    const char* b = static_cast<const char*>(g.b) + b0 * g.strideB * static_cast<int64_t>(abSize);
    char* c = static_cast<char*>(g.c) + b0 * g.strideC * static_cast<int64_t>(cSize);

    // Where cuBLASLt writes: C itself, or the f32 scratch (dense, ld n, stride m n, beta 0).
    void* d = c;
    DType dType = g.cType;
    int64_t ldd = g.ldc, strideD = g.strideC;
    float beta = g.beta;
    if (viaScratch) {
      d = cublasLtScratch(s, static_cast<size_t>(count * g.m * g.n) * sizeof(float));
      dType = DType::F32;
      ldd = g.n;
      strideD = g.m * g.n;
      beta = 0.0f;
    }
    const size_t dSize = dtypeSize(dType);

    PlanKey key{};
    key.abType = g.abType;
    key.cType = dType;
    key.biasType = epilogueHasBias(wanted) ? g.biasType : dType;
    key.transA = g.transA;
    key.transB = g.transB;
    key.tf32 = tf32Allowed();
    key.m = g.m;
    key.n = g.n;
    key.k = g.k;
    key.batch = count;
    key.lda = g.lda;
    key.ldb = g.ldb;
    key.ldc = ldd;
    // Strides mean nothing for a single matrix: leave them out of the key (more cache hits).
    key.strideA = batched ? g.strideA : 0;
    key.strideB = batched ? g.strideB : 0;
    key.strideC = batched ? strideD : 0;
    key.epilogue = wanted;
    key.alignA = alignmentOf(a, key.strideA * static_cast<int64_t>(abSize));
    key.alignB = alignmentOf(b, key.strideB * static_cast<int64_t>(abSize));
    key.alignC = alignmentOf(d, key.strideC * static_cast<int64_t>(dSize));
    key.alignBias = epilogueHasBias(wanted) ? alignmentOf(g.bias, 0) : 0;

    const float alpha = g.alpha;
    uint32_t applied;
    {
      std::lock_guard<std::mutex> lock(ctx.mutex);
      Plan& plan = findOrBuildPlan(lt, ctx, cache, key, g.bias);
      if (epilogueHasBias(plan.epilogue)) {
        const void* bias = g.bias;
        checkCublas(
            lt.matmulDescSetAttribute(plan.desc, kLtMatmulDescBiasPointer, &bias, sizeof bias),
            "cublasLtMatmulDescSetAttribute");
      }
      // beta == 0: C is not read, but cuBLASLt still wants a valid pointer and layout; D's do.
      cublasStatus_t st = lt.matmul(ctx.handle, plan.desc, &alpha, b, plan.ltA, a, plan.ltB, &beta,
                                    d, plan.ltC, d, plan.ltC, &plan.algo, workspace,
                                    kCublasLtWorkspaceBytes, s);
      if (st != kCublasSuccess && plan.epilogue != kLtEpilogueDefault) {
        // The fused epilogue was accepted by the heuristic but refused at run time: drop it for
        // this plan for good and run the plain GEMM (our kernel below applies bias and GELU).
        if (!chooseAlgorithm(lt, ctx, key, plan, kLtEpilogueDefault, nullptr)) {
          throw Error(ErrorCode::CudaError,
                      "cuBLASLt has no algorithm for this gemm: " + shapeText(key),
                      "an algorithm from cublasLtMatmulAlgoGetHeuristic",
                      cublasStatusName(kCublasStatusNotSupported));
        }
        st = lt.matmul(ctx.handle, plan.desc, &alpha, b, plan.ltA, a, plan.ltB, &beta, d,
                       plan.ltC, d, plan.ltC, &plan.algo, workspace, kCublasLtWorkspaceBytes, s);
      }
      if (st != kCublasSuccess) {
        // An execution failure may be a sticky CUDA fault: report it as such.
        cudaError_t cu = cudaPeekAtLastError();
        if (cu != cudaSuccess && isStickyError(cu)) {
          throw Error(ErrorCode::DeviceLost,
                      "cublasLtMatmul failed with " + cublasStatusName(st) +
                          " after a CUDA fault: " + cudaGetErrorName(cu) +
                          "; the device is unusable in this process",
                      "a usable device", cudaGetErrorName(cu));
        }
        checkCublas(st, ("cublasLtMatmul (" + shapeText(key) + ")").c_str());
      }
      applied = plan.epilogue;
    }

    // What cuBLASLt did not apply of the epilogue, in place on this chunk of C.
    const bool postBias = useBias && !epilogueHasBias(applied);
    const bool postGelu = gelu && !epilogueHasGelu(applied);
    if (viaScratch || postBias || postGelu) {
      post.c = c;
      post.batch = count;
      post.beta = g.beta;
      post.src = viaScratch ? static_cast<const float*>(d) : nullptr;
      post.ldSrc = ldd;
      post.strideSrc = strideD;
      post.bias = postBias ? g.bias : nullptr;
      post.colBegin = postGelu ? g.geluBegin : 0;
      post.colEnd = postGelu ? g.geluEnd : 0;
      launchGemmEpilogue(s, post);
    }
  }
}

}  // namespace vit::cuda
