// The test-only entry points of the two fakes (nothing of the project calls them): the harness uses
// them to look inside (counts) and to inject what a real GPU job would meet (a lost peer, a stream
// under graph capture). fake_nccl.so exports the ncclFake* ones (the harness finds them with dlsym
// on the same file cuda::loadNccl opened); fake_cudart.cc, linked into the harness, the others.
#pragma once

#include <cstdint>

struct CUstream_st;

extern "C" {

// What fake_nccl.so has seen since it was loaded.
struct NcclFakeCounts {
  int64_t commsCreated;            // by ncclCommInitRankConfig and ncclCommSplit
  int64_t commsFinalized;          // ncclCommFinalize calls
  int64_t commsDestroyed;          // ncclCommDestroy calls
  int64_t commsAborted;            // ncclCommAbort calls
  int64_t destroyedUnfinalized;    // ncclCommDestroy without ncclCommFinalize first
  int64_t callsOnDeadComms;        // any call naming a communicator already destroyed or aborted
  int64_t operationsEnqueued;      // collectives and send/recv groups put on a stream
  int64_t operationsCompleted;     // of those, finished with every peer
  int64_t operationsAbandoned;     // of those, ended by ncclCommAbort while waiting
  int64_t usageErrors;             // calls refused with ncclInvalidArgument / ncclInvalidUsage
};
using PfnNcclFakeCounts = void (*)(NcclFakeCounts* out);
// Makes ncclCommGetAsyncError report `result` (ncclRemoteError: a peer lost) on `comm` from now on.
using PfnNcclFakeInjectAsyncError = void (*)(void* comm, int result);

// fake_cudart.cc
struct CudaFakeCounts {
  int64_t eventsCreated;
  int64_t eventsRecorded;
  int64_t eventsDestroyed;
  int64_t streamsCreated;
  int64_t streamsDestroyed;
};
void cudaFakeCounts(CudaFakeCounts* out);
// Waits at most `ms` for every item queued on `stream` to have run; true if it has. (The real
// cudaStreamSynchronize has no deadline; the harness must never hang, so it asks this first.)
bool cudaFakeStreamIdleWithin(CUstream_st* stream, int64_t ms);
// Graph capture, reduced to what the nccl backend can observe: while capturing,
// cudaStreamIsCapturing says Active and enqueued work is recorded instead of run; ending the
// capture with replay = true runs what was recorded (a graph launched once), else drops it.
void cudaFakeBeginCapture(CUstream_st* stream);
void cudaFakeEndCapture(CUstream_st* stream, bool replay);
}
