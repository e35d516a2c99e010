// NcclMesh (nccl_mesh.h). Only in the CUDA addon: the CPU addon compiles this file to nothing.
#include "comm/nccl_mesh.h"

#if VIT22B_WITH_CUDA

#include <new>

namespace vit::comm {

namespace {

NcclWorldOptions optionsOf(int data, int model, int rank, int cudaDevice,
                           std::chrono::milliseconds timeout) {
  NcclWorldOptions o;
  o.rank = rank;
  o.dataSize = data;
  o.modelSize = model;
  o.cudaDevice = cudaDevice;
  o.timeout = timeout;
  return o;
}

}  // namespace

NcclMesh::NcclMesh(int data, int model, int rank, int cudaDevice, std::chrono::milliseconds timeout)
    : world_(NcclWorld::create(optionsOf(data, model, rank, cudaDevice, timeout))),
      comms_(makeNcclDeviceComms(world_)) {}

std::optional<Error> NcclMesh::runOnEveryRank(const std::string& step,
                                              const std::function<void(int)>& body) {
  comms_->setStep(step);
  comms_->setInMeshCall(true);
  std::optional<Error> failure;
  auto fail = [&](const Error& e) {
    // The world's typed failure, when it has one, explains the error body saw.
    try {
      world_->check();
    } catch (const Error& stored) {
      failure = Error(stored.code(), comms_->place().describe() + ": " + stored.message(),
                      stored.expected(), stored.received());
      return;
    }
    failure = Error(e.code(), comms_->place().describe() + ": " + e.message(), e.expected(), e.received());
  };
  try {
    world_->check();
    body(0);
    // A collective the watchdog aborted during the step may have let the stream drain without a
    // CUDA error (aborted NCCL kernels return): its result is garbage, so the step failed.
    world_->check();
  } catch (const Error& e) {
    fail(e);
  } catch (const std::bad_alloc&) {
    fail(Error(ErrorCode::HostOom, "native code ran out of host memory during a mesh step"));
  } catch (const std::exception& e) {
    fail(Error(ErrorCode::Internal, std::string("internal error: ") + e.what()));
  } catch (...) {
    fail(Error(ErrorCode::Internal, "internal error: unknown C++ exception in a mesh step"));
  }
  comms_->setInMeshCall(false);
  return failure;
}

}  // namespace vit::comm

#endif  // VIT22B_WITH_CUDA
