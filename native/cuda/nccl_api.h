// Our own declarations of the part of NCCL we call, so the addon builds without NCCL installed
// (the library is dlopen'ed). Restates the documented C API of nccl.h.
#pragma once

extern "C" {
typedef int ncclResult_t;  // ncclSuccess == 0
}

namespace vit::cuda {

constexpr ncclResult_t kNcclSuccess = 0;

using PfnNcclGetVersion = ncclResult_t (*)(int*);
using PfnNcclGetErrorString = const char* (*)(ncclResult_t);

}  // namespace vit::cuda
