// Our own declarations of the part of NCCL we call, so the addon builds without NCCL installed: the
// library is dlopen'ed (vendor_libraries.*) and its functions called through the pointer types
// below. They restate the documented C API of nccl.h (SHARDING.md, "NCCL facts"): the values are
// ABI, so every one is checked, here by static_assert and in test/native/nccl-api.test.ts by a
// program that prints them for comparison with the documented values. Needs no CUDA header: a
// stream is CUDA's own opaque `CUstream_st*`, which is what cudaStream_t is.
#pragma once

#include <climits>
#include <cstddef>

struct CUstream_st;

namespace vit::cuda {

// The oldest NCCL we accept, as ncclGetVersion reports it (major * 10000 + minor * 100 + patch, the
// encoding since 2.9): 2.18 has everything the nccl backend calls, ncclCommSplit being the newest
// (2.18.1); non-blocking communicators and ncclCommGetAsyncError polling of init date from 2.14.
// lib/runtime/nccl-status.ts states the same floor for `vit22b info`.
constexpr int kNcclVersionFloor = 21800;

// ncclResult_t. Timeout exists from 2.30 on; older libraries never return it.
enum NcclResult : int {
  kNcclSuccess = 0,
  kNcclUnhandledCudaError = 1,
  kNcclSystemError = 2,
  kNcclInternalError = 3,
  kNcclInvalidArgument = 4,
  kNcclInvalidUsage = 5,
  kNcclRemoteError = 6,  // a peer failed or vanished: what a dead rank looks like
  kNcclInProgress = 7,   // a non-blocking call still running: poll ncclCommGetAsyncError
  kNcclTimeout = 8,
};

// ncclDataType_t
enum NcclDataType : int {
  kNcclInt8 = 0,
  kNcclUint8 = 1,
  kNcclInt32 = 2,
  kNcclUint32 = 3,
  kNcclInt64 = 4,
  kNcclUint64 = 5,
  kNcclFloat16 = 6,
  kNcclFloat32 = 7,
  kNcclFloat64 = 8,
  kNcclBfloat16 = 9,
};

// ncclRedOp_t (the predefined ones; we sum, and scale ourselves, as every backend does)
enum NcclRedOp : int {
  kNcclSum = 0,
  kNcclProd = 1,
  kNcclMax = 2,
  kNcclMin = 3,
  kNcclAvg = 4,
};

// ncclUniqueId: 128 opaque bytes, passed by value.
struct NcclUniqueId {
  char internal[128];
};

// ncclComm_t: an opaque pointer.
struct NcclCommOpaque;
using NcclComm = NcclCommOpaque*;

// ncclConfig_t, a versioned struct that only ever grows: NCCL reads `size` bytes of it and takes
// the defaults for fields beyond. Declared here up to splitShare (the layout of NCCL 2.17/2.18,
// `ncclConfig_v21700`), every field we do not set left "undefined" (INT_MIN / null), which NCCL
// replaces with its default, exactly as NCCL_CONFIG_INITIALIZER does.
constexpr unsigned int kNcclConfigMagic = 0xcafebeef;
constexpr int kNcclConfigUndefInt = INT_MIN;

struct NcclConfig {
  size_t size = sizeof(NcclConfig);
  unsigned int magic = kNcclConfigMagic;
  // The NCCL version whose layout this is; NCCL uses it to know which fields exist.
  unsigned int version = kNcclVersionFloor;
  int blocking = kNcclConfigUndefInt;  // 0: init, split and group end return InProgress
  int cgaClusterSize = kNcclConfigUndefInt;
  int minCTAs = kNcclConfigUndefInt;
  int maxCTAs = kNcclConfigUndefInt;
  const char* netName = nullptr;
  int splitShare = kNcclConfigUndefInt;
};

// The layout is ABI: these offsets are the C layout of ncclConfig_v21700 on LP64.
static_assert(sizeof(NcclUniqueId) == 128, "ncclUniqueId is 128 bytes");
static_assert(sizeof(NcclResult) == sizeof(int) && sizeof(NcclDataType) == sizeof(int) &&
                  sizeof(NcclRedOp) == sizeof(int),
              "NCCL's enums are C enums: int-sized");
static_assert(offsetof(NcclConfig, size) == 0 && offsetof(NcclConfig, magic) == 8 &&
                  offsetof(NcclConfig, version) == 12 && offsetof(NcclConfig, blocking) == 16 &&
                  offsetof(NcclConfig, cgaClusterSize) == 20 && offsetof(NcclConfig, minCTAs) == 24 &&
                  offsetof(NcclConfig, maxCTAs) == 28 && offsetof(NcclConfig, netName) == 32 &&
                  offsetof(NcclConfig, splitShare) == 40 && sizeof(NcclConfig) == 48,
              "ncclConfig_t (2.17/2.18 layout) on LP64");

using NcclStream = CUstream_st*;

extern "C" {
using PfnNcclGetVersion = NcclResult (*)(int* version);
using PfnNcclGetErrorString = const char* (*)(NcclResult result);
// The last error's text for a communicator (nullptr: the process's last); NCCL 2.13+.
using PfnNcclGetLastError = const char* (*)(NcclComm comm);
using PfnNcclGetUniqueId = NcclResult (*)(NcclUniqueId* id);
using PfnNcclCommInitRankConfig = NcclResult (*)(NcclComm* comm, int nranks, NcclUniqueId id,
                                                 int rank, NcclConfig* config);
using PfnNcclCommSplit = NcclResult (*)(NcclComm comm, int color, int key, NcclComm* newcomm,
                                        NcclConfig* config);
using PfnNcclCommGetAsyncError = NcclResult (*)(NcclComm comm, NcclResult* asyncError);
using PfnNcclCommFinalize = NcclResult (*)(NcclComm comm);
using PfnNcclCommDestroy = NcclResult (*)(NcclComm comm);
using PfnNcclCommAbort = NcclResult (*)(NcclComm comm);
using PfnNcclAllGather = NcclResult (*)(const void* sendbuff, void* recvbuff, size_t sendcount,
                                        NcclDataType datatype, NcclComm comm, NcclStream stream);
using PfnNcclReduceScatter = NcclResult (*)(const void* sendbuff, void* recvbuff, size_t recvcount,
                                            NcclDataType datatype, NcclRedOp op, NcclComm comm,
                                            NcclStream stream);
using PfnNcclAllReduce = NcclResult (*)(const void* sendbuff, void* recvbuff, size_t count,
                                        NcclDataType datatype, NcclRedOp op, NcclComm comm,
                                        NcclStream stream);
using PfnNcclSend = NcclResult (*)(const void* sendbuff, size_t count, NcclDataType datatype,
                                   int peer, NcclComm comm, NcclStream stream);
using PfnNcclRecv = NcclResult (*)(void* recvbuff, size_t count, NcclDataType datatype, int peer,
                                   NcclComm comm, NcclStream stream);
using PfnNcclGroupStart = NcclResult (*)();
using PfnNcclGroupEnd = NcclResult (*)();
}

}  // namespace vit::cuda
