// The `mpi` backend: one mesh axis of a multi-process run, over an MPI communicator split from the
// world (mpi_mesh.h). Every collective is point-to-point (MPI_Isend / MPI_Irecv of bytes) polled
// with MPI_Test against the axis deadline, and every sum is ours:
//   - all_gather: every rank sends its buffer to every peer;
//   - reduce_scatter: rank j receives every peer's j-th block and sums them in axis rank order;
//   - all_reduce: every rank receives every peer's whole buffer and sums in axis rank order;
//   - collective_permute: one send to (rank + shift) % n, one receive from (rank - shift) mod n.
// Why not MPI_Allreduce / MPI_Reduce_scatter: their summation order is the implementation's (and
// changes with message size and algorithm), while ours is the `local` backend's exactly (f32
// accumulation in axis rank order 0 .. n-1, one rounding: buffer_ops.h), so a multi-process run
// equals the single-process virtual mesh bit for bit. The price is n-1 full buffers received per
// all_reduce instead of a ring's 2(n-1)/n: fine for the CPU meshes this backend serves (axes of 2-8).
//
// Every call also exchanges a 32-byte descriptor (collective, count, dtype, shift, scale) with the
// same peers, so a rank that called a different collective is named (ERR_INVALID_PLAN) instead of
// silently receiving the wrong bytes.
//
// Faults: a wait past the deadline throws ERR_COMM_TIMEOUT naming the collective, the axis, this rank
// with its coordinates, the step and the peers whose data never came; an MPI error while waiting
// (MPI_ERRORS_RETURN is set on the world, so a dead peer returns instead of aborting us) throws
// ERR_COMM_PEER_LOST. Either leaves requests posted on buffers we no longer own, so the
// communicator (and MPI: mpi::markBroken) is unusable afterwards: later calls throw at once, and
// the process must exit (the CLI does; mpirun then ends the job).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/device_comms.h"
#include "comm/mpi_library.h"

namespace vit::comm {

class MpiCommunicator final : public Communicator {
 public:
  // `comm`: the axis's MPI communicator, in which axis rank j is members[j] of the mesh; `axisName`
  // names it in messages ("data", "model", "world"); `comms` (may be null) supplies the step.
  MpiCommunicator(mpi::Comm comm, std::string axisName, std::vector<MeshPlace> members, int axisRank,
                  std::chrono::milliseconds timeout, const DeviceComms* comms);

  int size() const override { return static_cast<int>(members_.size()); }
  int rank() const override { return axisRank_; }
  void allGather(const void* send, void* recv, int64_t count, DType dtype, Stream stream) override;
  void reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                     Stream stream) override;
  void allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                 Stream stream) override;
  void permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
               Stream stream) override;
  // A peer cannot be woken from here (it is another process); abort makes this rank's later calls
  // throw ERR_COLLECTIVE_ABORTED. reset clears that (never a timeout or a lost peer: those break MPI).
  void abort() override { aborted_ = true; }
  void reset() override { aborted_ = false; }

  void setComms(const DeviceComms* comms) { comms_ = comms; }
  // What the step is called in messages when no DeviceComms is attached (host gathers).
  void setStepName(std::string step) { stepName_ = std::move(step); }

  // Host bytes, same size on every rank: out[j] = rank j's `bytes` (the JavaScript side's global
  // reads and output assembly). `what` names the call in messages.
  std::vector<std::vector<uint8_t>> gatherBytes(const void* data, size_t bytes, const char* what);

 private:
  struct Transfer {
    int peer;  // axis rank
    bool send;
    void* buf;
    int64_t bytes;
  };
  struct Descriptor {
    int32_t op = 0;
    int32_t dtype = 0;
    int64_t count = 0;
    int64_t shift = 0;
    float scale = 1.0f;
    int32_t pad = 0;
  };

  // Posts every transfer plus the descriptor exchange with the same peers, and polls until all
  // complete or the deadline passes; then checks every received descriptor against `mine`.
  void exchange(const char* op, const Descriptor& mine, std::vector<Transfer> transfers);
  void checkUsable(const char* op) const;
  std::string where(const char* op) const;
  const std::string& step() const;
  // Posts one MPI_Isend / MPI_Irecv per <= 1 GiB chunk (MPI counts are int). Called with the call
  // mutex held, so `a` comes from the caller (mpi::api() takes the open mutex: never inside it).
  void post(const mpi::Api& a, const char* op, const Transfer& t, int tag, std::vector<mpi::Request>& reqs, std::vector<int>& owners,
            std::vector<char>& isSend);

  mpi::Comm comm_;
  std::string axisName_;
  std::vector<MeshPlace> members_;
  int axisRank_;
  std::chrono::milliseconds timeout_;
  const DeviceComms* comms_;
  std::string stepName_ = "outside a mesh run";
  int tag_ = 0;
  bool aborted_ = false;
  std::vector<uint8_t> scratch_;
};

}  // namespace vit::comm
