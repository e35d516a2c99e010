// The `nccl` backend: one process per GPU, NCCL opened at run time (native/cuda/vendor_libraries.*,
// declarations in native/cuda/nccl_api.h). Compiled into the CUDA addon only (VIT22B_WITH_CUDA).
//
// How it is built (SHARDING.md, decisions 4 and 6; "NCCL facts"):
//   - bootstrap: NCCL's own rendezvous. The launcher sets NCCL_COMM_ID=MASTER_ADDR:MASTER_PORT, so
//     every rank's ncclGetUniqueId returns the same id and rank 0 hosts the bootstrap there: no id
//     exchange of ours;
//   - one world communicator (ncclCommInitRankConfig, blocking = 0), then one per mesh axis by
//     ncclCommSplit (the data group of rank r = d * k + m: same m, key d; the model group: same d,
//     key m), so a collective addresses its axis group with axis ranks, as in the local backend;
//   - every call is non-blocking: a call that returns ncclInProgress is polled with
//     ncclCommGetAsyncError against the deadline, never waited on inside NCCL;
//   - collectives are enqueued on the caller's stream (Stream::handle, the plan's communication
//     stream); permute is a grouped ncclSend + ncclRecv pair; all_reduce sums with ncclSum and
//     then scales once with the axpby kernel (the interface's "summed first, scaled once");
//   - a watchdog thread follows each enqueued collective (a CUDA event recorded after it) and the
//     communicators' asynchronous errors: a collective not complete by its deadline, or a peer
//     lost (ncclRemoteError), aborts every communicator of the process (ncclCommAbort, which also
//     makes the spinning NCCL kernels return) and is reported, typed, by the next call and by
//     check(): ERR_COMM_TIMEOUT naming the collective, the mesh axis, this rank and the step, or
//     ERR_COMM_PEER_LOST.
// Every NCCL call of one world goes through one mutex: NCCL forbids ncclCommAbort while another
// thread is inside NCCL with the same communicator, and the watchdog polls concurrently.
#pragma once

#if VIT22B_WITH_CUDA

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <cstdint>
#include <thread>
#include <vector>

#include "comm/communicator.h"
#include "comm/device_comms.h"
#include "core/status.h"
#include "cuda/nccl_api.h"
#include "cuda/vendor_libraries.h"

struct CUevent_st;
struct CUstream_st;

namespace vit::comm {

struct NcclWorldOptions {
  int rank = 0;       // this process's global rank (RANK)
  int dataSize = 1;   // mesh t: data x model == the world size
  int modelSize = 1;  // mesh k
  int cudaDevice = 0; // the GPU this rank drives (LOCAL_RANK's)
  std::chrono::milliseconds timeout{600000};  // --comm-timeout: every init, split and collective
};

class NcclWorld : public std::enable_shared_from_this<NcclWorld> {
 public:
  // Initialises the world and both axis communicators; throws ERR_LIBRARY_NOT_FOUND (NCCL not
  // loaded, too old), ERR_INVALID_ARGUMENT (bad options, NCCL_COMM_ID unset for several ranks),
  // ERR_COMM_TIMEOUT (peers that never joined) or ERR_COMM_PEER_LOST.
  static std::shared_ptr<NcclWorld> create(const NcclWorldOptions& options);
  ~NcclWorld();
  NcclWorld(const NcclWorld&) = delete;
  NcclWorld& operator=(const NcclWorld&) = delete;

  const MeshPlace& place() const { return place_; }
  cuda::NcclComm axisComm(MeshAxis axis) const { return axes_[static_cast<size_t>(axis)]; }

  // Enqueues one collective on `axis` through `enqueue` (calls of the NCCL table on that axis's
  // communicator), polls an InProgress result to its end, and hands the collective to the
  // watchdog. Throws the world's stored failure first: nothing is enqueued on aborted communicators.
  void run(const char* op, MeshAxis axis, const std::string& step, Stream stream,
           const std::function<cuda::NcclResult()>& enqueue);
  const cuda::Nccl& api() const { return nccl_; }

  // out[j] = world rank j's `bytes` bytes (every rank calls it with the same size, in the same
  // order): an all-gather of bytes over the world communicator through device staging buffers on
  // a stream of its own (kept between calls), waited for on the host. One caller at a time (the
  // JavaScript thread). Bounded by the timeout like every collective (the
  // watchdog aborts it); what the host side uses for global reads and a step's outputs.
  std::vector<std::vector<uint8_t>> gatherHost(const void* data, size_t bytes, const std::string& what);

  // Throws the failure the watchdog found (ERR_COMM_TIMEOUT / ERR_COMM_PEER_LOST), if any. The
  // runtime calls it when a step's stream synchronisation fails or ends, so that the typed error,
  // not CUDA's, is what the user reads.
  void check();
  // ncclCommAbort on every communicator, once; later calls throw ERR_COLLECTIVE_ABORTED.
  void abort();

 private:
  struct Pending {
    CUevent_st* done = nullptr;
    cuda::NcclComm comm = nullptr;  // the communicator it was enqueued on
    std::string what;  // "all_reduce on mesh axis 'data' at rank 1 (data 1, model 0), step 3"
    std::chrono::steady_clock::time_point deadline;
  };

  explicit NcclWorld(const NcclWorldOptions& options);
  void init();
  // Polls comm's asynchronous state until it leaves InProgress or the deadline passes; throws the
  // typed error (after aborting everything on a timeout or a lost peer). Called with mutex_ held.
  void settle(cuda::NcclComm comm, cuda::NcclResult first, const std::string& what,
              std::chrono::steady_clock::time_point deadline, std::unique_lock<std::mutex>& lock);
  Error ncclError(cuda::NcclResult result, const std::string& what, cuda::NcclComm comm) const;
  void abortLocked();
  void fail(Error error);  // records the first failure and aborts; mutex_ held
  void watch();            // the watchdog thread's loop
  // run() on any communicator of the world (an axis, or the world itself for gatherHost); `what`
  // names the call in errors.
  // Called with mutex_ held through `lock` (settle() releases it while it polls).
  void enqueue(cuda::NcclComm comm, const std::string& what, Stream stream,
               const std::function<cuda::NcclResult()>& call, std::unique_lock<std::mutex>& lock);

  const cuda::Nccl& nccl_;
  NcclWorldOptions options_;
  MeshPlace place_;
  cuda::NcclComm world_ = nullptr;
  std::array<cuda::NcclComm, 2> axes_{nullptr, nullptr};  // [MeshAxis::Data, MeshAxis::Model]

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Pending> pending_;
  std::optional<Error> failure_;
  bool aborted_ = false;
  bool stopping_ = false;
  std::thread watchdog_;

  // gatherHost's staging, kept between calls (it runs after every step, for the step's outputs):
  // a stream of its own and device buffers that only grow; freed by the destructor.
  CUstream_st* gatherStream_ = nullptr;
  void* gatherSend_ = nullptr;
  void* gatherRecv_ = nullptr;
  size_t gatherCapacity_ = 0;  // bytes per rank the buffers hold
};

// One axis of an NcclWorld as a Communicator (what the collective kernels call through
// DeviceComms). Counts are elements, as in NCCL.
class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<NcclWorld> world, MeshAxis axis);
  // The device's comms (which own this communicator), read for the step in messages.
  void setComms(const DeviceComms* comms) { comms_ = comms; }

  int size() const override { return size_; }
  int rank() const override { return rank_; }
  void allGather(const void* send, void* recv, int64_t count, DType dtype, Stream stream) override;
  void reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                     Stream stream) override;
  void allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                 Stream stream) override;
  void permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
               Stream stream) override;
  void abort() override { world_->abort(); }
  // NCCL communicators cannot be revived after an abort: a new NcclWorld is needed, so reset only
  // rethrows a stored failure (and is a no-op on a healthy world).
  void reset() override { world_->check(); }

 private:
  std::string step() const;

  std::shared_ptr<NcclWorld> world_;
  MeshAxis axis_;
  const DeviceComms* comms_ = nullptr;
  int size_;
  int rank_;
};

// This process's place in the mesh and its two NCCL axis communicators over `world` (what
// NcclMesh, native/comm/nccl_mesh.h, hands to the device).
std::shared_ptr<DeviceComms> makeNcclDeviceComms(const std::shared_ptr<NcclWorld>& world);

}  // namespace vit::comm

#endif  // VIT22B_WITH_CUDA
