#include "comm/device_comms.h"

#include "comm/buffer_ops.h"
#include "core/status.h"

namespace vit::comm {

std::string MeshPlace::describe() const {
  return "rank " + std::to_string(rank) + " (data " + std::to_string(data) + ", model " +
         std::to_string(model) + ")";
}

MeshPlace MeshPlace::of(int rank, int dataSize, int modelSize) {
  MeshPlace p;
  p.rank = rank;
  p.data = rank / modelSize;
  p.model = rank % modelSize;
  p.dataSize = dataSize;
  p.modelSize = modelSize;
  return p;
}

const char* axisName(MeshAxis axis) { return axis == MeshAxis::Data ? "data" : "model"; }

DeviceComms::DeviceComms(MeshPlace place, std::unique_ptr<Communicator> data,
                         std::unique_ptr<Communicator> model)
    : place_(place), axes_{std::move(data), std::move(model)} {}

void SelfCommunicator::allGather(const void* send, void* recv, int64_t count, DType dtype,
                                 Stream stream) {
  copyElements(recv, send, count, dtype, stream);
}

void SelfCommunicator::reduceScatter(const void* send, void* recv, int64_t recvCount, DType dtype,
                                     Stream stream) {
  // A sum of one term, rounded once: the term itself.
  copyElements(recv, send, recvCount, dtype, stream);
}

void SelfCommunicator::allReduce(const void* send, void* recv, int64_t count, DType dtype,
                                 float scale, Stream stream) {
  const void* srcs[1] = {send};
  sumInOrder(recv, srcs, 1, count, dtype, scale, stream);
}

void SelfCommunicator::permute(const void* send, void* recv, int64_t count, DType dtype,
                               int64_t shift, Stream stream) {
  copyElements(recv, send, count, dtype, stream);
}

Communicator& communicatorFor(Stream stream, MeshAxis axis, int64_t ranks, const char* kernel) {
  const std::string k = kernel;
  const std::string ax = axisName(axis);
  auto* comms = static_cast<DeviceComms*>(stream.comm);
  if (!comms) {
    static SelfCommunicator self;
    if (ranks == 1) return self;
    throw Error(ErrorCode::InvalidArgument,
                k + " over mesh axis '" + ax + "' with ranks " + std::to_string(ranks) +
                    " needs a mesh whose '" + ax + "' axis has " + std::to_string(ranks) +
                    " devices; this device is not in a mesh (createMesh)",
                "ranks 1 outside a mesh", "ranks " + std::to_string(ranks));
  }
  Communicator& c = comms->axis(axis);
  if (c.size() > 1 && !comms->inMeshCall()) {
    throw Error(ErrorCode::InvalidArgument,
                k + " over mesh axis '" + ax + "' (" + std::to_string(c.size()) +
                    " devices) runs only in a mesh step, where every rank takes part (MeshPlan.run "
                    "or Mesh.launch); " + comms->place().describe() + " was called alone",
                "MeshPlan.run or Mesh.launch", "a launch or plan run of one device");
  }
  if (c.size() != ranks) {
    throw Error(ErrorCode::InvalidArgument,
                k + " says ranks " + std::to_string(ranks) + ", but the '" + ax + "' axis of " +
                    comms->place().describe() + "'s mesh (" + std::to_string(comms->place().dataSize) +
                    " x " + std::to_string(comms->place().modelSize) + ") has " +
                    std::to_string(c.size()) + " devices",
                "ranks " + std::to_string(c.size()), "ranks " + std::to_string(ranks));
  }
  return c;
}

}  // namespace vit::comm
