// Our own declarations of the part of cuBLASLt we call. The library is opened at run time
// (dlopen), so the addon builds where cuBLAS is not installed; these types and signatures are the
// documented cuBLASLt C API (cublasLt.h), restated here so that header is not needed.
//
// Where each value comes from (checked against two sources each, see the notes per block):
//   [LT]   the cuBLASLt API reference, https://docs.nvidia.com/cuda/cublas/ (cuBLASLt API section:
//          cublasLtMatmulDescAttributes_t, cublasLtMatrixLayoutAttribute_t, cublasLtEpilogue_t,
//          cublasLtMatmulPreferenceAttributes_t, cublasLtMatmulHeuristicResult_t, cublasLtMatmul)
//          as restated by cublasLt.h of CUDA 12.9/13 (the enum values and struct layouts below are
//          that header's, value for value);
//   [NVM]  nvmath-python's generated cuBLAS/cuBLASLt bindings, which list every enum value:
//          https://docs.nvidia.com/cuda/nvmath-python/latest/bindings/generated/
//          nvmath.bindings.cublasLt.MatmulDescAttribute.html, ...cublasLt.Epilogue.html,
//          ...cublasLt.MatrixLayoutAttribute.html, ...cublasLt.MatmulPreferenceAttribute.html,
//          ...cublas.ComputeType.html, ...cublas.Status.html, ...cublas.Operation.html;
//   [LIB]  library_types.h of the CUDA toolkit (cudaDataType_t: CUDA_R_32F = 0, CUDA_R_16BF = 14),
//          which ships with the runtime headers and is included rather than restated.
// These are ABI facts of a stable C API: a value never changes within a cuBLAS major version, and
// none of these has changed from CUDA 11 to 13.
#pragma once

#include <cuda_runtime_api.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>

extern "C" {
typedef struct cublasLtContext* cublasLtHandle_t;
typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS == 0

// Opaque descriptors: cuBLASLt allocates them (the *Create functions); we only hold pointers.
typedef struct cublasLtMatmulDescOpaque_st* cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_st* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_st* cublasLtMatmulPreference_t;

// [LT] "Semi-opaque algorithm descriptor": 8 x uint64, copied by value, valid for the library
// version that produced it.
typedef struct {
  uint64_t data[8];
} cublasLtMatmulAlgo_t;

// [LT] cublasLtMatmulHeuristicResult_t, field for field (algo, workspaceSize, state, wavesCount,
// reserved[4]): 64 + 8 + 4 + 4 + 16 = 96 bytes.
typedef struct {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
} cublasLtMatmulHeuristicResult_t;
}

static_assert(sizeof(cublasLtMatmulAlgo_t) == 64, "cublasLtMatmulAlgo_t is 8 x uint64");
static_assert(sizeof(cublasLtMatmulHeuristicResult_t) == 96,
              "cublasLtMatmulHeuristicResult_t layout must match cublasLt.h");

namespace vit::cuda {

constexpr cublasStatus_t kCublasSuccess = 0;

// cublasStatus_t [NVM cublas.Status], [LT]: the values a cuBLASLt call can return.
struct CublasStatusName {
  cublasStatus_t value;
  const char* name;
};
constexpr CublasStatusName kCublasStatusNames[] = {
    {0, "CUBLAS_STATUS_SUCCESS"},          {1, "CUBLAS_STATUS_NOT_INITIALIZED"},
    {3, "CUBLAS_STATUS_ALLOC_FAILED"},     {7, "CUBLAS_STATUS_INVALID_VALUE"},
    {8, "CUBLAS_STATUS_ARCH_MISMATCH"},    {11, "CUBLAS_STATUS_MAPPING_ERROR"},
    {13, "CUBLAS_STATUS_EXECUTION_FAILED"}, {14, "CUBLAS_STATUS_INTERNAL_ERROR"},
    {15, "CUBLAS_STATUS_NOT_SUPPORTED"},   {16, "CUBLAS_STATUS_LICENSE_ERROR"},
};
constexpr cublasStatus_t kCublasStatusNotSupported = 15;

// cublasComputeType_t [NVM cublas.ComputeType]: 32F = 68, 32F_FAST_TF32 = 77.
constexpr int32_t kCublasCompute32F = 68;
constexpr int32_t kCublasCompute32FFastTf32 = 77;

// cublasOperation_t [NVM cublas.Operation]: N = 0, T = 1. Set as int32_t attributes [LT].
constexpr int32_t kCublasOpN = 0;
constexpr int32_t kCublasOpT = 1;

// cublasLtMatmulDescAttributes_t [LT], [NVM cublasLt.MatmulDescAttribute]. Value types per [LT]:
// TRANSA/TRANSB int32_t, EPILOGUE uint32_t, BIAS_POINTER const void*, BIAS_DATA_TYPE int32_t (a
// cudaDataType_t). We leave BIAS_BATCH_STRIDE (10) at its default 0 (one bias for every batch).
// BIAS_DATA_TYPE (26) defaults to -1 (= D's type); we set it only for an f32 bias on a bf16 D,
// which [LT] does not list among its exceptions to "bias of D's type" (those are IMMA and FP8
// kernels): the heuristic (or the matmul) may refuse it, and gemm.cu then applies the bias itself.
enum CublasLtMatmulDescAttribute : int32_t {
  kLtMatmulDescTransA = 3,
  kLtMatmulDescTransB = 4,
  kLtMatmulDescEpilogue = 7,
  kLtMatmulDescBiasPointer = 8,
  kLtMatmulDescBiasDataType = 26,
};

// cublasLtEpilogue_t [LT], [NVM cublasLt.Epilogue]: DEFAULT = 1, BIAS = 4, GELU = 32,
// GELU_BIAS = GELU | BIAS = 36.
// BIAS: "bias vector length must match matrix D rows ... broadcasted to all columns and added
// before applying final postprocessing"; the bias elements have D's type unless
// BIAS_DATA_TYPE says otherwise (default -1 = Dtype) for f32/bf16 outputs [LT].
constexpr uint32_t kLtEpilogueDefault = 1;
constexpr uint32_t kLtEpilogueBias = 4;
constexpr uint32_t kLtEpilogueGelu = 32;
constexpr uint32_t kLtEpilogueGeluBias = 36;

// cublasLtMatrixLayoutAttribute_t [LT], [NVM]: BATCH_COUNT int32_t, STRIDED_BATCH_OFFSET int64_t
// (in elements). The default order is column-major (CUBLASLT_ORDER_COL = 0), which is what we use.
enum CublasLtMatrixLayoutAttribute : int32_t {
  kLtLayoutBatchCount = 5,
  kLtLayoutStridedBatchOffset = 6,
};

// cublasLtMatmulPreferenceAttributes_t [LT], [NVM]: MAX_WORKSPACE_BYTES uint64_t,
// MIN_ALIGNMENT_*_BYTES uint32_t (default 256: without them the heuristic assumes 256-byte
// aligned operands).
enum CublasLtMatmulPreferenceAttribute : int32_t {
  kLtPrefMaxWorkspaceBytes = 1,
  kLtPrefMinAlignmentABytes = 5,
  kLtPrefMinAlignmentBBytes = 6,
  kLtPrefMinAlignmentCBytes = 7,
  kLtPrefMinAlignmentDBytes = 8,
};

// Signatures [LT] (cublasLt.h). Enum-typed parameters are C enums, passed as int in the C ABI; we
// declare them int32_t / cudaDataType_t so the call is ABI-identical.
using PfnCublasLtGetVersion = size_t (*)();
using PfnCublasLtCreate = cublasStatus_t (*)(cublasLtHandle_t*);
using PfnCublasLtDestroy = cublasStatus_t (*)(cublasLtHandle_t);
using PfnCublasLtGetStatusString = const char* (*)(cublasStatus_t);
using PfnCublasLtMatmulDescCreate = cublasStatus_t (*)(cublasLtMatmulDesc_t* matmulDesc,
                                                       int32_t computeType,  // cublasComputeType_t
                                                       cudaDataType_t scaleType);
using PfnCublasLtMatmulDescDestroy = cublasStatus_t (*)(cublasLtMatmulDesc_t);
using PfnCublasLtMatmulDescSetAttribute = cublasStatus_t (*)(cublasLtMatmulDesc_t matmulDesc,
                                                             int32_t attr, const void* buf,
                                                             size_t sizeInBytes);
using PfnCublasLtMatrixLayoutCreate = cublasStatus_t (*)(cublasLtMatrixLayout_t* matLayout,
                                                         cudaDataType_t type, uint64_t rows,
                                                         uint64_t cols, int64_t ld);
using PfnCublasLtMatrixLayoutDestroy = cublasStatus_t (*)(cublasLtMatrixLayout_t);
using PfnCublasLtMatrixLayoutSetAttribute = cublasStatus_t (*)(cublasLtMatrixLayout_t matLayout,
                                                               int32_t attr, const void* buf,
                                                               size_t sizeInBytes);
using PfnCublasLtMatmulPreferenceCreate = cublasStatus_t (*)(cublasLtMatmulPreference_t* pref);
using PfnCublasLtMatmulPreferenceDestroy = cublasStatus_t (*)(cublasLtMatmulPreference_t);
using PfnCublasLtMatmulPreferenceSetAttribute = cublasStatus_t (*)(cublasLtMatmulPreference_t pref,
                                                                   int32_t attr, const void* buf,
                                                                   size_t sizeInBytes);
using PfnCublasLtMatmulAlgoGetHeuristic = cublasStatus_t (*)(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t preference, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int* returnAlgoCount);
using PfnCublasLtMatmul = cublasStatus_t (*)(
    cublasLtHandle_t lightHandle, cublasLtMatmulDesc_t computeDesc, const void* alpha,
    const void* A, cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
    const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
    cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace,
    size_t workspaceSizeInBytes, cudaStream_t stream);

}  // namespace vit::cuda
