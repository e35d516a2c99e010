// A data x model mesh spread over processes, one device each (the `mpi` backend): this process is
// world rank r of an MPI job of data * model processes, and holds mesh rank r = d * model + m (the
// same numbering as LocalMesh). Its two axes are MPI communicators split from the world by the mesh
// coordinates: the `model` group of r is the ranks with the same d (color d, key m), the `data` group
// those with the same m (color m, key d); an axis of one device is a SelfCommunicator.
//
// Construction is collective over the world: every process must create its mesh with the same
// shape, and the shapes are compared first (a bounded wait: ERR_COMM_TIMEOUT if a process never
// comes, ERR_INVALID_ARGUMENT naming the first process that disagrees) before MPI_Comm_split, which
// has no deadline of its own but then only runs once every process is known to be there.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "comm/mesh_runner.h"
#include "comm/mpi_communicator.h"

namespace vit::comm {

class MpiMesh final : public MeshRunner {
 public:
  MpiMesh(int data, int model, std::chrono::milliseconds timeout);

  int size() const override { return 1; }
  const std::shared_ptr<DeviceComms>& comms(int local) const override { return comms_; }
  void abort() override;
  void reset() override;
  std::optional<Error> runOnEveryRank(const std::string& step,
                                      const std::function<void(int)>& body) override;

  // This process's mesh rank (its MPI world rank).
  int rank() const { return comms_->place().rank; }
  // out[j] = process j's `bytes` (every process must call it, with the same size): what the
  // JavaScript side uses for global reads of sharded buffers and for a step's outputs.
  std::vector<std::vector<uint8_t>> gatherBytes(const void* data, size_t bytes, const char* what);

 private:
  std::shared_ptr<DeviceComms> comms_;
  std::unique_ptr<MpiCommunicator> world_;  // this mesh's own copy of the world (host gathers)
  MpiCommunicator* data_ = nullptr;         // null for an axis of one device
  MpiCommunicator* model_ = nullptr;
};

}  // namespace vit::comm
