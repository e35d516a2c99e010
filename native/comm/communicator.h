// One axis of a device mesh as a communicator: NCCL- and MPI-shaped collectives on contiguous
// buffers. Backends: `self` (an axis of one device: copies), `local` (virtual devices of one process,
// local_communicator.h); `nccl` and `mpi` come later behind this same interface (SHARDING.md,
// decision 4), which is why the calls mirror ncclAllGather / ncclReduceScatter / ncclAllReduce /
// grouped ncclSend+ncclRecv argument for argument, the op fixed to sum and the stream last.
//
// Every backend is deterministic for a fixed mesh: a sum accumulates in f32 in axis rank order
// 0 .. size-1 and is rounded once to the buffer's dtype, so a fixed mesh reproduces bit for bit.
// Every call has a deadline; a rank that never arrives gives ERR_COLLECTIVE_TIMEOUT naming it, and
// abort() makes every waiting or later call throw ERR_COLLECTIVE_ABORTED until the mesh resets it.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels.h"

namespace vit::comm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int size() const = 0;  // devices on the axis
  virtual int rank() const = 0;  // this device's rank on the axis, 0 .. size-1

  // recv[j * count, (j + 1) * count) = rank j's send[0, count), on every rank.
  virtual void allGather(const void* send, void* recv, int64_t count, DType dtype, Stream stream) = 0;
  // recv[0, recvCount) = sum over j of rank j's send[rank * recvCount, (rank + 1) * recvCount).
  virtual void reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                             Stream stream) = 0;
  // recv = scale * sum over j of rank j's send (summed first, scaled once); recv may be send.
  virtual void allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                         Stream stream) = 0;
  // Sends send to rank (rank + shift) % size, receives into recv from (rank - shift) mod size.
  virtual void permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
                       Stream stream) = 0;

  // Wakes every rank waiting in a collective of this axis group (they throw
  // ERR_COLLECTIVE_ABORTED), and makes later calls throw too, until reset().
  virtual void abort() = 0;
  // Forgets an aborted or timed-out collective: only while no rank of the group is inside a call.
  virtual void reset() = 0;
};

}  // namespace vit::comm
