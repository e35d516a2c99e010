// A data x model mesh spread over processes, one GPU each (the `nccl` backend): this process is
// rank r of a job of data * model processes (RANK, from the launcher), holds mesh rank r = d * model
// + m (the numbering of LocalMesh and MpiMesh) and drives the CUDA device it was given (LOCAL_RANK's:
// lib/runtime/gpu-binding.ts decides). Its two axes are the NCCL communicators of an NcclWorld
// (native/comm/nccl_communicator.h), whose construction is collective over the job: NCCL's own
// rendezvous at NCCL_COMM_ID, bounded by the timeout.
//
// Compiled into the CUDA addon only (VIT22B_WITH_CUDA).
#pragma once

#if VIT22B_WITH_CUDA

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/mesh_runner.h"
#include "comm/nccl_communicator.h"

namespace vit::comm {

class NcclMesh final : public MeshRunner {
 public:
  NcclMesh(int data, int model, int rank, int cudaDevice, std::chrono::milliseconds timeout);

  int size() const override { return 1; }
  const std::shared_ptr<DeviceComms>& comms(int local) const override { return comms_; }
  // ncclCommAbort on every communicator: the world cannot be used again (NCCL's rule).
  void abort() override { world_->abort(); }
  // Rethrows a stored failure (a timeout, a lost peer): an NCCL world is not revived.
  void reset() override { world_->check(); }
  // body(0) on the calling thread (a libuv worker for a plan run). The world's own failure wins
  // whenever it has one, also after a body that returned: a collective the watchdog aborted may
  // make the step's stream synchronisation fail with a CUDA error, or may let it end normally on
  // garbage; either way what the user must read is ERR_COMM_TIMEOUT or ERR_COMM_PEER_LOST naming
  // the collective.
  std::optional<Error> runOnEveryRank(const std::string& step,
                                      const std::function<void(int)>& body) override;

  int rank() const { return comms_->place().rank; }
  // out[j] = process j's `bytes` (every process calls it with the same size).
  std::vector<std::vector<uint8_t>> gatherBytes(const void* data, size_t bytes, const char* what) {
    return world_->gatherHost(data, bytes, what);
  }

 private:
  std::shared_ptr<NcclWorld> world_;
  std::shared_ptr<DeviceComms> comms_;
};

}  // namespace vit::comm

#endif  // VIT22B_WITH_CUDA
