#include "addon/mesh_handle.h"

#include <cstring>
#include <string>

#include "addon/addon_data.h"
#include "addon/args.h"
#include "addon/device_handle.h"
#include "addon/errors.h"
#include "addon/kernel_launchers.h"
#include "addon/launch_context.h"
#include "addon/mesh_run_worker.h"
#include "addon/plan_handle.h"
#include "core/status.h"
#if VIT22B_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace vit::addon {

namespace {

// The largest mesh: lib/runtime/mesh.ts MAX_MESH_DEVICES says the same.
constexpr int64_t kMaxDevices = 64;

Napi::Array arrayOf(const Napi::Value& v, const std::string& name, size_t length,
                    const std::string& what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != length) {
    throw Error(ErrorCode::InvalidArgument,
                name + " must be an array of " + std::to_string(length) + " " + what +
                    " (one per rank of the mesh)",
                std::to_string(length) + " " + what,
                v.IsArray() ? std::to_string(v.As<Napi::Array>().Length()) + " entries"
                            : std::string(jsTypeName(v)));
  }
  return v.As<Napi::Array>();
}

}  // namespace

Napi::Function MeshHandle::define(Napi::Env env) {
  return DefineClass(env, "MeshHandle",
                     {InstanceAccessor<&MeshHandle::getSize>("size"),
                      InstanceAccessor<&MeshHandle::getRank>("rank"),
                      InstanceAccessor<&MeshHandle::getBackend>("backend"),
                      InstanceMethod<&MeshHandle::gatherBytes>("gatherBytes"),
                      InstanceMethod<&MeshHandle::run>("run"),
                      InstanceMethod<&MeshHandle::launch>("launch"),
                      InstanceMethod<&MeshHandle::dispose>("dispose")});
}

// new MeshHandle(devices: DeviceHandle[], data: number, model: number, timeoutMs: number,
//                backend?: 'local' | 'mpi' | 'nccl', rank?: number)
MeshHandle::MeshHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MeshHandle>(info) {
  guard(info.Env(), [&] {
    Napi::Env env = info.Env();
    const int64_t data = countArg(info, 1, "data");
    const int64_t model = countArg(info, 2, "model");
    const int64_t timeoutMs = countArg(info, 3, "timeoutMs");
    if (data < 1 || model < 1 || data * model > kMaxDevices) {
      throw Error(ErrorCode::InvalidArgument,
                  "a mesh of " + std::to_string(data) + " x " + std::to_string(model) +
                      " devices is out of range",
                  "data >= 1, model >= 1, data * model <= " + std::to_string(kMaxDevices),
                  std::to_string(data) + " x " + std::to_string(model));
    }
    if (timeoutMs < 1) {
      throw Error(ErrorCode::InvalidArgument, "a mesh's timeoutMs must be at least 1", ">= 1",
                  std::to_string(timeoutMs));
    }
    if (info.Length() > 4 && !info[4].IsUndefined()) backend_ = stringArg(info, 4, "backend");
    if (backend_ != "local" && backend_ != "mpi" && backend_ != "nccl") {
      throw Error(ErrorCode::InvalidArgument, "a mesh's backend must be 'local', 'mpi' or 'nccl'",
                  "local | mpi | nccl", backend_);
    }
#if !VIT22B_WITH_CUDA
    if (backend_ == "nccl") {
      throw Error(ErrorCode::NotImplemented,
                  "a mesh over NCCL needs the CUDA addon (one GPU per process); this is the CPU addon",
                  "the CUDA addon", "the CPU addon");
    }
#endif
    // Under MPI or NCCL this process holds one device of the mesh; the others are its peers' processes.
    const bool oneHere = backend_ != "local";
    const int n = oneHere ? 1 : static_cast<int>(data * model);
    int64_t rank = 0;
    if (backend_ == "nccl") {
      rank = countArg(info, 5, "rank");
      if (rank >= data * model) {
        throw Error(ErrorCode::InvalidArgument,
                    "rank " + std::to_string(rank) + " is not a rank of a " + std::to_string(data) + " x " +
                        std::to_string(model) + " mesh",
                    "0 <= rank < " + std::to_string(data * model), std::to_string(rank));
      }
    }
    Napi::Value arg = info.Length() > 0 ? info[0] : env.Undefined();
    Napi::Array devices = arrayOf(arg, "mesh devices", static_cast<size_t>(n), "DeviceHandles");
    for (int r = 0; r < n; ++r) {
      Napi::Value v = devices.Get(static_cast<uint32_t>(r));
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addonData(env).deviceClass.Value())) {
        throw Error(ErrorCode::InvalidArgument, "mesh devices[" + std::to_string(r) + "] must be a DeviceHandle",
                    "DeviceHandle", jsTypeName(v));
      }
      DeviceHandle* d = DeviceHandle::Unwrap(v.As<Napi::Object>());
      const std::shared_ptr<DeviceState>& st = d->state();
      if (!st) {
        throw Error(ErrorCode::Disposed, "mesh devices[" + std::to_string(r) + "] was disposed",
                    "a live device", "disposed device");
      }
      const std::string kind = st->backend->kind();
      if (backend_ == "nccl" && kind != "cuda") {
        throw Error(ErrorCode::InvalidArgument, "a mesh over NCCL holds this process's CUDA device",
                    "a cuda device", kind);
      }
      if (backend_ != "nccl" && kind != "cpu") {
        throw Error(ErrorCode::NotImplemented,
                    "a '" + backend_ + "' mesh of CUDA devices is not implemented (GPU virtual-device "
                    "collectives); one GPU per process is the 'nccl' backend",
                    "cpu devices", kind);
      }
      if (st->backend->comms()) {
        throw Error(ErrorCode::InvalidArgument,
                    "mesh devices[" + std::to_string(r) + "] already belongs to a mesh",
                    "a device of no mesh", "a mesh's device");
      }
      for (const auto& other : devices_) {
        if (other == st) {
          throw Error(ErrorCode::InvalidArgument, "a device appears twice in the mesh",
                      "distinct devices", "devices[" + std::to_string(r) + "] repeated");
        }
      }
      devices_.push_back(st);
    }
#if VIT22B_WITH_CUDA
    if (backend_ == "nccl") {
      auto* cuda = dynamic_cast<cuda::CudaBackend*>(devices_[0]->backend.get());
      auto m = std::make_shared<comm::NcclMesh>(static_cast<int>(data), static_cast<int>(model),
                                                static_cast<int>(rank), cuda->ordinal(),
                                                std::chrono::milliseconds(timeoutMs));
      nccl_ = m.get();
      mesh_ = std::move(m);
    } else
#endif
    if (backend_ == "mpi") {
      auto m = std::make_shared<comm::MpiMesh>(static_cast<int>(data), static_cast<int>(model),
                                               std::chrono::milliseconds(timeoutMs));
      mpi_ = m.get();
      mesh_ = std::move(m);
    } else {
      mesh_ = std::make_shared<comm::LocalMesh>(static_cast<int>(data), static_cast<int>(model),
                                                std::chrono::milliseconds(timeoutMs));
    }
    for (int r = 0; r < n; ++r) devices_[static_cast<size_t>(r)]->backend->setComms(mesh_->comms(r));
  });
}

void MeshHandle::requireLive(const char* use) const {
  if (!mesh_) {
    throw Error(ErrorCode::Disposed, std::string("cannot ") + use + " on a disposed mesh",
                "a live mesh", "disposed mesh");
  }
}

Error MeshHandle::atRank(int rank, const Error& e) const {
  return Error(e.code(), mesh_->comms(rank)->place().describe() + ": " + e.message(), e.expected(),
               e.received());
}

Napi::Value MeshHandle::getSize(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(devices_.size()));
}

Napi::Value MeshHandle::getRank(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Number::New(info.Env(), mesh_ ? mesh_->comms(0)->place().rank : 0);
}

Napi::Value MeshHandle::getBackend(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::String::New(info.Env(), backend_);
}

// gatherBytes(bytes: ArrayBufferView) -> ArrayBuffer[]: process j's bytes at [j]. Blocks the
// JavaScript thread for the exchange (bounded by the mesh's timeout); a global read between steps.
Napi::Value MeshHandle::gatherBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    requireLive("gather bytes");
    if (backend_ == "local") {
      throw Error(ErrorCode::InvalidArgument, "gatherBytes is for meshes over processes (MPI or NCCL); a local mesh holds every slice itself",
                  "backend 'mpi' or 'nccl'", backend_);
    }
    if (*running_) {
      throw Error(ErrorCode::DeviceBusy, "cannot gather while a mesh run is in flight; await it first",
                  "an idle mesh", "a run in flight");
    }
    if (info.Length() < 1 || !info[0].IsTypedArray()) {
      throw Error(ErrorCode::InvalidArgument, "gatherBytes takes a typed array", "a typed array",
                  info.Length() < 1 ? "nothing" : jsTypeName(info[0]));
    }
    Napi::TypedArray view = info[0].As<Napi::TypedArray>();
    const uint8_t* data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    std::vector<std::vector<uint8_t>> all;
#if VIT22B_WITH_CUDA
    if (nccl_) all = nccl_->gatherBytes(data, view.ByteLength(), "a host gather between steps");
#endif
    if (mpi_) all = mpi_->gatherBytes(data, view.ByteLength(), "a host gather between steps");
    Napi::Array out = Napi::Array::New(env, all.size());
    for (size_t j = 0; j < all.size(); ++j) {
      Napi::ArrayBuffer b = Napi::ArrayBuffer::New(env, all[j].size());
      if (!all[j].empty()) std::memcpy(b.Data(), all[j].data(), all[j].size());
      out.Set(static_cast<uint32_t>(j), b);
    }
    return out;
  });
}

// run(plans, inputs, scalars) -> Promise<ArrayBuffer[][]>. Never throws: every failure rejects.
Napi::Value MeshHandle::run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  countEntry(env);
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  try {
    startRun(info, deferred);
  } catch (...) {
    deferred.Reject(currentExceptionToJs(env).Value());
  }
  return deferred.Promise();
}

void MeshHandle::startRun(const Napi::CallbackInfo& info, Napi::Promise::Deferred deferred) {
  Napi::Env env = info.Env();
  requireLive("run a plan");
  const size_t n = devices_.size();
  Napi::Array plans = arrayOf(info.Length() > 0 ? info[0] : env.Undefined(), "mesh run plans", n, "PlanHandles");
  Napi::Array inputs = arrayOf(info.Length() > 1 ? info[1] : env.Undefined(), "mesh run inputs", n, "input arrays");
  Napi::Value scalars = info.Length() > 2 ? info[2] : env.Undefined();
  std::vector<MeshRank> ranks(n);
  std::vector<Napi::Object> planObjects;
  for (size_t r = 0; r < n; ++r) {
    const int rank = static_cast<int>(r);
    try {
      Napi::Value v = plans.Get(static_cast<uint32_t>(r));
      if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addonData(env).planClass.Value())) {
        throw Error(ErrorCode::InvalidArgument, "mesh run plans[" + std::to_string(r) + "] must be a PlanHandle",
                    "PlanHandle", jsTypeName(v));
      }
      PlanHandle* plan = PlanHandle::Unwrap(v.As<Napi::Object>());
      if (plan->state() && plan->state() != devices_[r]) {
        throw Error(ErrorCode::DeviceMismatch,
                    "mesh run plans[" + std::to_string(r) + "] was loaded on another device than rank " +
                        std::to_string(r) + "'s",
                    "a plan loaded on mesh.devices[" + std::to_string(r) + "]", "a plan of another device");
      }
      PreparedRun prepared = plan->prepareRun(env, inputs.Get(static_cast<uint32_t>(r)), scalars);
      ranks[r] = MeshRank{plan->state(), plan->plan(), std::move(prepared.inputs), std::move(prepared.scalars)};
      planObjects.push_back(v.As<Napi::Object>());
    } catch (const Error& e) {
      throw atRank(rank, e);
    }
  }
  auto* worker = new MeshRunWorker(env, deferred, std::move(planObjects), mesh_, std::move(ranks),
                                   ++runs_, running_);
  worker->Queue();
  *running_ = true;
  for (auto& d : devices_) d->planRunning = true;
}

// launch(kernel, specs): one kernel on every rank at once. Synchronous: the calling (JavaScript)
// thread waits for the ranks' threads, so a test can launch a collective without a plan; a step
// belongs in run().
Napi::Value MeshHandle::launch(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    Napi::Env env = info.Env();
    requireLive("launch a kernel");
    const size_t n = devices_.size();
    std::string name = stringArg(info, 0, "kernel");
    KernelLauncher launcher = findKernelLauncher(name);
    if (!launcher) throwUnknownKernel(name);
    Napi::Array specs = arrayOf(info.Length() > 1 ? info[1] : env.Undefined(), "mesh launch specs", n, "specs");
    std::vector<exec::KernelCall> calls;
    for (size_t r = 0; r < n; ++r) {
      try {
        devices_[r]->requireIdle("run a kernel");
        devices_[r]->backend->ensureUsable();
        Napi::Value spec = specs.Get(static_cast<uint32_t>(r));
        if (!spec.IsObject()) {
          throw Error(ErrorCode::InvalidArgument, "mesh launch specs[" + std::to_string(r) + "] must be an object",
                      "a spec object", jsTypeName(spec));
        }
        BufferOperands operands(env, devices_[r]);
        calls.push_back(launcher(operands, spec.As<Napi::Object>()));
      } catch (const Error& e) {
        throw atRank(static_cast<int>(r), e);
      }
    }
    std::optional<Error> failure =
        mesh_->runOnEveryRank("launch " + std::to_string(++launches_), [&](int r) {
          exec::RunContext run(*devices_[static_cast<size_t>(r)]->backend);
          calls[static_cast<size_t>(r)](run);
        });
    if (failure) throw *failure;
    return env.Undefined();
  });
}

// Detaches nothing: the devices keep their communicators (they are the mesh's), and the mesh's
// TypeScript object disposes them. Refused while a run is in flight.
Napi::Value MeshHandle::dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (*running_) {
      throw Error(ErrorCode::DeviceBusy, "cannot dispose a mesh while a run is in flight; await it first",
                  "an idle mesh", "a run in flight");
    }
    mesh_.reset();
    return info.Env().Undefined();
  });
}

}  // namespace vit::addon
