// A device's place in a mesh: its coordinates and one Communicator per mesh axis. The backend hands
// it to every kernel as Stream::comm (kernels.h); the collective kernels find their communicator
// through communicatorFor().
//
// Mesh geometry (SHARDING.md): `data` x `model` (t x k) devices, rank r = d * k + m. The `model`
// group of rank r is the ranks with the same d (axis rank m); the `data` group the ranks with the
// same m (axis rank d).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "comm/communicator.h"
#include "kernels.h"

namespace vit::comm {

struct MeshPlace {
  int rank = 0;
  int data = 0;   // coordinate on the data axis
  int model = 0;  // coordinate on the model axis
  int dataSize = 1;
  int modelSize = 1;
  // "rank 1 (data 0, model 1)"
  std::string describe() const;
  static MeshPlace of(int rank, int dataSize, int modelSize);
};

const char* axisName(MeshAxis axis);  // "data" | "model"

class DeviceComms {
 public:
  DeviceComms(MeshPlace place, std::unique_ptr<Communicator> data,
              std::unique_ptr<Communicator> model);

  const MeshPlace& place() const { return place_; }
  Communicator& axis(MeshAxis a) const { return *axes_[static_cast<size_t>(a)]; }

  // What the device is doing, for error messages ("run 3", "launch 2"): written by the mesh before
  // it starts the device's thread (which publishes it), read by the communicators on that thread.
  void setStep(std::string step) { step_ = std::move(step); }
  const std::string& step() const { return step_; }

  // True while the mesh runs every rank at once (LocalMesh::runOnEveryRank): a collective over
  // several devices called outside one (a plain Device launch or plan run of one rank) would wait
  // for peers that never come, so communicatorFor refuses it instead.
  void setInMeshCall(bool on) { inMeshCall_ = on; }
  bool inMeshCall() const { return inMeshCall_; }

 private:
  MeshPlace place_;
  std::array<std::unique_ptr<Communicator>, 2> axes_;  // [MeshAxis::Data, MeshAxis::Model]
  std::string step_ = "outside a mesh run";
  std::atomic<bool> inMeshCall_{false};
};

// A mesh axis of one device: every collective is a copy (all_reduce scales). Also what a device
// outside any mesh uses for ranks == 1.
class SelfCommunicator final : public Communicator {
 public:
  int size() const override { return 1; }
  int rank() const override { return 0; }
  void allGather(const void* send, void* recv, int64_t count, DType dtype, Stream stream) override;
  void reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                     Stream stream) override;
  void allReduce(const void* send, void* recv, int64_t count, DType dtype, float scale,
                 Stream stream) override;
  void permute(const void* send, void* recv, int64_t count, DType dtype, int64_t shift,
               Stream stream) override;
  void abort() override {}
  void reset() override {}
};

// The communicator a collective kernel `kernel` over `axis` with `ranks` devices runs on: the
// device's (Stream::comm), whose axis must have exactly `ranks` devices, or, outside a mesh, a
// SelfCommunicator when ranks == 1. Anything else is ERR_INVALID_ARGUMENT naming both sizes.
Communicator& communicatorFor(Stream stream, MeshAxis axis, int64_t ranks, const char* kernel);

}  // namespace vit::comm
