// Our own declarations of the part of cuBLASLt we call. The library is opened at run time
// (dlopen), so the addon builds where cuBLAS is not installed; these types and signatures are the
// documented cuBLASLt C API (cublasLt.h), restated here so that header is not needed.
#pragma once

#include <cstddef>

extern "C" {
typedef struct cublasLtContext* cublasLtHandle_t;
typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS == 0
}

namespace vit::cuda {

constexpr cublasStatus_t kCublasSuccess = 0;

using PfnCublasLtGetVersion = size_t (*)();
using PfnCublasLtCreate = cublasStatus_t (*)(cublasLtHandle_t*);
using PfnCublasLtDestroy = cublasStatus_t (*)(cublasLtHandle_t);
using PfnCublasLtGetStatusString = const char* (*)(cublasStatus_t);

}  // namespace vit::cuda
