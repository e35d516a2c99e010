#include "comm/mpi_mesh.h"

#include <cstring>

namespace vit::comm {

namespace {

mpi::Comm split(int color, int key) {
  const mpi::Api& a = mpi::api();
  std::lock_guard<std::mutex> lock(mpi::callMutex());
  mpi::Comm out = nullptr;
  const int rc = a.Comm_split(a.commWorld, color, key, &out);
  if (rc != mpi::kSuccess) {
    mpi::markBroken();
    throw Error(ErrorCode::CommPeerLost, "MPI_Comm_split of the world failed: " + mpi::errorText(rc),
                "every process of the job alive", mpi::errorText(rc));
  }
  return out;
}

}  // namespace

MpiMesh::MpiMesh(int data, int model, std::chrono::milliseconds timeout) {
  const int rank = mpi::worldRank();
  const int n = mpi::worldSize();
  if (n != data * model) {
    throw Error(ErrorCode::InvalidArgument,
                "a " + std::to_string(data) + " x " + std::to_string(model) + " mesh over MPI needs " +
                    std::to_string(data * model) + " processes (one device each), but this job has " +
                    std::to_string(n) + " (mpirun -np " + std::to_string(data * model) + ")",
                std::to_string(data * model) + " processes", std::to_string(n));
  }
  std::vector<MeshPlace> places;
  for (int r = 0; r < n; ++r) places.push_back(MeshPlace::of(r, data, model));
  const MeshPlace me = places[static_cast<size_t>(rank)];

  // Every process must ask for the same mesh: compared over the world with a deadline first.
  {
    const mpi::Api& a = mpi::api();
    MpiCommunicator world(a.commWorld, "world", places, rank, timeout, nullptr);
    const int64_t mine[3] = {data, model, timeout.count()};
    auto all = world.gatherBytes(mine, sizeof(mine), "creating the mesh");
    for (int r = 0; r < n; ++r) {
      int64_t theirs[3];
      std::memcpy(theirs, all[static_cast<size_t>(r)].data(), sizeof(theirs));
      if (theirs[0] != data || theirs[1] != model) {
        throw Error(ErrorCode::InvalidArgument,
                    "process " + std::to_string(r) + " asked for a " + std::to_string(theirs[0]) + " x " +
                        std::to_string(theirs[1]) + " mesh, this one (" + std::to_string(rank) +
                        ") for " + std::to_string(data) + " x " + std::to_string(model),
                    "the same mesh on every process", std::to_string(theirs[0]) + " x " + std::to_string(theirs[1]));
      }
    }
  }
  // Split in the same order on every process (MPI_Comm_split is collective over the world).
  const mpi::Comm worldCopy = split(0, rank);
  const mpi::Comm modelComm = model > 1 ? split(me.data, me.model) : nullptr;
  const mpi::Comm dataComm = data > 1 ? split(me.model, me.data) : nullptr;

  world_ = std::make_unique<MpiCommunicator>(worldCopy, "world", places, rank, timeout, nullptr);
  std::unique_ptr<Communicator> dataAxis, modelAxis;
  if (dataComm) {
    std::vector<MeshPlace> members;
    for (int d = 0; d < data; ++d) members.push_back(places[static_cast<size_t>(d * model + me.model)]);
    auto c = std::make_unique<MpiCommunicator>(dataComm, "data", members, me.data, timeout, nullptr);
    data_ = c.get();
    dataAxis = std::move(c);
  } else {
    dataAxis = std::make_unique<SelfCommunicator>();
  }
  if (modelComm) {
    std::vector<MeshPlace> members;
    for (int m = 0; m < model; ++m) members.push_back(places[static_cast<size_t>(me.data * model + m)]);
    auto c = std::make_unique<MpiCommunicator>(modelComm, "model", members, me.model, timeout, nullptr);
    model_ = c.get();
    modelAxis = std::move(c);
  } else {
    modelAxis = std::make_unique<SelfCommunicator>();
  }
  comms_ = std::make_shared<DeviceComms>(me, std::move(dataAxis), std::move(modelAxis));
  if (data_) data_->setComms(comms_.get());
  if (model_) model_->setComms(comms_.get());
}

void MpiMesh::abort() {
  if (data_) data_->abort();
  if (model_) model_->abort();
}

void MpiMesh::reset() {
  if (data_) data_->reset();
  if (model_) model_->reset();
}

std::optional<Error> MpiMesh::runOnEveryRank(const std::string& step,
                                             const std::function<void(int)>& body) {
  reset();
  comms_->setStep(step);
  comms_->setInMeshCall(true);
  // One device, run on the calling thread (a libuv worker for a plan run): no peer thread here to
  // wake; the peers are other processes and learn of a failure by their own deadline or MPI error.
  std::optional<Error> failure = errorOf([&] { body(0); });
  comms_->setInMeshCall(false);
  if (!failure) return failure;
  return Error(failure->code(), comms_->place().describe() + ": " + failure->message(), failure->expected(),
               failure->received());
}

std::vector<std::vector<uint8_t>> MpiMesh::gatherBytes(const void* data, size_t bytes, const char* what) {
  return world_->gatherBytes(data, bytes, what);
}

}  // namespace vit::comm
