// A mesh of devices as a JavaScript object (lib/runtime/mesh.ts):
//   new MeshHandle(devices: DeviceHandle[], data, model, timeoutMs,
//                  backend?: 'local' | 'mpi' | 'nccl', rank?: number)
//     'local' (default): devices.length == data * model virtual cpu devices of this process;
//     'mpi': devices.length == 1, this process's cpu device of a data x model mesh of MPI processes;
//     'nccl' (the CUDA addon only): devices.length == 1, this process's CUDA device, mesh rank
//       `rank` (RANK) of a job of data * model processes bootstrapped at NCCL_COMM_ID
//   rank: the mesh rank of devices[0] (0 for 'local'); backend
//   gatherBytes(bytes: ArrayBufferView) -> ArrayBuffer[]: every process's bytes ('mpi' and 'nccl';
//     synchronous, collective: every process calls it with the same size)
//   run(plans: PlanHandle[], inputs: ArrayBufferView[][], scalars: number[]) -> Promise<ArrayBuffer[][]>
//   launch(kernel, specs: object[]): one kernel on every rank at once (synchronous)
//   dispose()
// The devices stay ordinary DeviceHandles (alloc, launch, loadPlan as before); the mesh attaches
// its communicators to their backends (Backend::setComms -> Stream::comm) once, at construction.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "addon/device_state.h"
#include "comm/mesh_runner.h"
#include "comm/local_mesh.h"
#include "comm/mpi_mesh.h"
#include "comm/nccl_mesh.h"

namespace vit::addon {

class MeshHandle : public Napi::ObjectWrap<MeshHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit MeshHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value run(const Napi::CallbackInfo& info);
  Napi::Value launch(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value getSize(const Napi::CallbackInfo& info);
  Napi::Value getRank(const Napi::CallbackInfo& info);
  Napi::Value getBackend(const Napi::CallbackInfo& info);
  Napi::Value gatherBytes(const Napi::CallbackInfo& info);

  void startRun(const Napi::CallbackInfo& info, Napi::Promise::Deferred deferred);
  void requireLive(const char* use) const;
  // An error of rank r found on the JavaScript thread, its message prefixed with the rank.
  Error atRank(int rank, const Error& e) const;

  std::shared_ptr<comm::MeshRunner> mesh_;  // null once disposed
  comm::MpiMesh* mpi_ = nullptr;            // mesh_ when the backend is 'mpi'
#if VIT22B_WITH_CUDA
  comm::NcclMesh* nccl_ = nullptr;          // mesh_ when the backend is 'nccl'
#endif
  std::string backend_ = "local";
  std::vector<std::shared_ptr<DeviceState>> devices_;
  uint64_t runs_ = 0;
  uint64_t launches_ = 0;
  // True while a run is in flight (also marked on every device), so dispose waits for it.
  std::shared_ptr<std::atomic<bool>> running_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace vit::addon
