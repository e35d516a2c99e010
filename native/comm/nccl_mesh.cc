// NcclMesh (nccl_mesh.h). Only in the CUDA addon: the CPU addon compiles this file to nothing.
#include "comm/nccl_mesh.h"

#if VIT22B_WITH_CUDA

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
  std::optional<Error> failure = errorOf([&] {
    world_->check();
    body(0);
    // A collective the watchdog aborted during the step may have let the stream drain without a
    // CUDA error (aborted NCCL kernels return): its result is garbage, so the step failed.
    world_->check();
  });
  if (failure) {
    // The world's typed failure, when it has one, explains the error the body saw.
    if (std::optional<Error> stored = errorOf([&] { world_->check(); })) failure = stored;
    failure = Error(failure->code(), comms_->place().describe() + ": " + failure->message(),
                    failure->expected(), failure->received());
  }
  comms_->setInMeshCall(false);
  return failure;
}

}  // namespace vit::comm

#endif  // VIT22B_WITH_CUDA
