#include "comm/local_mesh.h"

#include <exception>
#include <mutex>
#include <new>
#include <thread>

namespace vit::comm {

LocalMesh::LocalMesh(int data, int model, std::chrono::milliseconds timeout) {
  const int n = data * model;
  std::vector<MeshPlace> places;
  for (int r = 0; r < n; ++r) places.push_back(MeshPlace::of(r, data, model));
  // The model group of coordinate d: ranks d*k .. d*k + k-1; the data group of m: m, k+m, 2k+m, ...
  std::vector<std::shared_ptr<LocalGroup>> modelGroups(static_cast<size_t>(data));
  std::vector<std::shared_ptr<LocalGroup>> dataGroups(static_cast<size_t>(model));
  if (model > 1) {
    for (int d = 0; d < data; ++d) {
      std::vector<MeshPlace> members;
      for (int m = 0; m < model; ++m) members.push_back(places[static_cast<size_t>(d * model + m)]);
      modelGroups[static_cast<size_t>(d)] = std::make_shared<LocalGroup>(MeshAxis::Model, members, timeout);
      groups_.push_back(modelGroups[static_cast<size_t>(d)]);
    }
  }
  if (data > 1) {
    for (int m = 0; m < model; ++m) {
      std::vector<MeshPlace> members;
      for (int d = 0; d < data; ++d) members.push_back(places[static_cast<size_t>(d * model + m)]);
      dataGroups[static_cast<size_t>(m)] = std::make_shared<LocalGroup>(MeshAxis::Data, members, timeout);
      groups_.push_back(dataGroups[static_cast<size_t>(m)]);
    }
  }
  for (int r = 0; r < n; ++r) {
    const MeshPlace& p = places[static_cast<size_t>(r)];
    // An axis of one device needs no rendezvous: its collectives are copies.
    std::unique_ptr<Communicator> dataComm, modelComm;
    LocalCommunicator* localData = nullptr;
    LocalCommunicator* localModel = nullptr;
    if (data > 1) {
      auto c = std::make_unique<LocalCommunicator>(dataGroups[static_cast<size_t>(p.model)], p.data, nullptr);
      localData = c.get();
      dataComm = std::move(c);
    } else {
      dataComm = std::make_unique<SelfCommunicator>();
    }
    if (model > 1) {
      auto c = std::make_unique<LocalCommunicator>(modelGroups[static_cast<size_t>(p.data)], p.model, nullptr);
      localModel = c.get();
      modelComm = std::move(c);
    } else {
      modelComm = std::make_unique<SelfCommunicator>();
    }
    auto dc = std::make_shared<DeviceComms>(p, std::move(dataComm), std::move(modelComm));
    // The communicators read the device's step for their messages.
    if (localData) localData->setComms(dc.get());
    if (localModel) localModel->setComms(dc.get());
    comms_.push_back(std::move(dc));
  }
}

void LocalMesh::abort() {
  for (auto& g : groups_) g->abort();
}

void LocalMesh::reset() {
  for (auto& g : groups_) g->reset();
}

std::optional<Error> LocalMesh::runOnEveryRank(const std::string& step,
                                               const std::function<void(int)>& body) {
  reset();
  for (auto& c : comms_) {
    c->setStep(step);
    c->setInMeshCall(true);
  }
  std::mutex mutex;
  std::optional<Error> first;         // the first failure that is not ERR_COLLECTIVE_ABORTED
  std::optional<Error> firstAborted;  // the first that is
  auto fail = [&](int rank, const Error& e) {
    Error located(e.code(), comms_[static_cast<size_t>(rank)]->place().describe() + ": " + e.message(),
                  e.expected(), e.received());
    {
      std::lock_guard<std::mutex> lock(mutex);
      std::optional<Error>& slot = e.code() == ErrorCode::CollectiveAborted ? firstAborted : first;
      if (!slot) slot = located;
    }
    abort();
  };
  std::vector<std::thread> threads;
  threads.reserve(comms_.size());
  std::optional<Error> startFailure;
  for (int r = 0; r < size() && !startFailure; ++r) {
    try {
    threads.emplace_back([&, r] {
      if (std::optional<Error> e = errorOf([&] { body(r); })) fail(r, *e);
    });
    } catch (const std::exception& e) {
      // No thread for this rank: the started ones must not wait for it until their deadline.
      startFailure = Error(ErrorCode::Internal, std::string("cannot start a thread for mesh ") +
                                                    comms_[static_cast<size_t>(r)]->place().describe() +
                                                    ": " + e.what());
      abort();
    }
  }
  for (std::thread& t : threads) t.join();
  for (auto& c : comms_) c->setInMeshCall(false);
  if (startFailure) {
    reset();
    return startFailure;
  }
  reset();
  if (first) return first;
  return firstAborted;
}

}  // namespace vit::comm
