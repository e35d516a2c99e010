#include "addon/device_handle.h"

#include <cstdint>

#include "addon/addon_data.h"
#include "addon/args.h"
#include "addon/buffer_handle.h"
#include "addon/errors.h"
#include "addon/kernel_launchers.h"
#include "addon/plan_loader.h"
#include "core/status.h"
#include "cpu/cpu_backend.h"
#if VIT22B_WITH_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/gemm_stats.h"
#endif

namespace vit::addon {

namespace {

std::unique_ptr<Backend> makeBackend(const std::string& kind, int ordinal, int threads) {
  if (kind == "cpu") return std::make_unique<cpu::CpuBackend>(threads);
  if (kind == "cuda") {
#if VIT22B_WITH_CUDA
    return std::make_unique<cuda::CudaBackend>(ordinal);
#else
    (void)ordinal;
    throw Error(ErrorCode::CudaUnavailable, "this addon was built without CUDA support",
                "the CUDA addon", "the CPU addon");
#endif
  }
  throw Error(ErrorCode::InvalidArgument, "unknown device kind '" + kind + "'", "cpu or cuda", kind);
}

}  // namespace

Napi::Function DeviceHandle::define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "DeviceHandle",
                     {InstanceAccessor<&DeviceHandle::getKind>("kind"),
                      InstanceAccessor<&DeviceHandle::getName>("name"),
                      InstanceMethod<&DeviceHandle::alloc>("alloc"),
                      InstanceMethod<&DeviceHandle::synchronize>("synchronize"),
                      InstanceMethod<&DeviceHandle::launch>("launch"),
                      InstanceMethod<&DeviceHandle::loadPlan>("loadPlan"),
                      InstanceMethod<&DeviceHandle::kernels>("kernels"),
                      InstanceMethod<&DeviceHandle::stats>("stats"),
                      InstanceMethod<&DeviceHandle::peakLiveBytes>("peakLiveBytes"),
                      InstanceMethod<&DeviceHandle::dispose>("dispose")});
  addonData(env).deviceClass = Napi::Persistent(ctor);
  return ctor;
}

DeviceHandle::DeviceHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceHandle>(info) {
  guard(info.Env(), [&] {
    kind_ = stringArg(info, 0, "kind");
    int64_t ordinal = info.Length() > 1 ? countArg(info, 1, "ordinal") : 0;
    if (ordinal > INT32_MAX) {  // would wrap around to a small, valid-looking index
      throw Error(ErrorCode::InvalidArgument, "device ordinal out of range", "0 .. 2^31-1",
                  std::to_string(ordinal));
    }
    int64_t threads = info.Length() > 2 && !info[2].IsUndefined() ? countArg(info, 2, "threads") : 0;
    if (threads > 1024) {
      throw Error(ErrorCode::InvalidArgument, "device threads out of range", "0 .. 1024",
                  std::to_string(threads));
    }
    if (threads > 0 && kind_ != "cpu") {
      throw Error(ErrorCode::InvalidArgument, "only cpu devices take a thread count", "cpu",
                  kind_);
    }
    state_ = std::make_shared<DeviceState>(
        makeBackend(kind_, static_cast<int>(ordinal), static_cast<int>(threads)));
    accounting_ = state_;
    name_ = state_->backend->describe();
  });
}

DeviceState& DeviceHandle::live(const char* use) {
  if (!state_) {
    throw Error(ErrorCode::Disposed, std::string("cannot ") + use + " on a disposed device",
                "a live device", "disposed device");
  }
  state_->backend->ensureUsable();
  return *state_;
}

DeviceState& DeviceHandle::idle(const char* use) {
  DeviceState& st = live(use);
  st.requireIdle(use);
  return st;
}

Napi::Value DeviceHandle::getKind(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::String::New(info.Env(), kind_);
}

Napi::Value DeviceHandle::getName(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::String::New(info.Env(), name_);
}

// alloc(bytes) -> BufferHandle
Napi::Value DeviceHandle::alloc(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    DeviceState& st = live("allocate");
    size_t bytes = static_cast<size_t>(countArg(info, 0, "bytes"));
    void* ptr = st.backend->allocate(bytes);
    return BufferHandle::create(info.Env(), state_, ptr, bytes);
  });
}

Napi::Value DeviceHandle::synchronize(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    idle("synchronize").backend->synchronize();
    return info.Env().Undefined();
  });
}

// launch(kernel, spec): prepares one kernel call through its registered launcher
// (kernel_launchers.h) with BufferHandle operands, and runs it at once.
Napi::Value DeviceHandle::launch(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    DeviceState& st = idle("run a kernel");
    std::string name = stringArg(info, 0, "kernel");
    KernelLauncher launcher = findKernelLauncher(name);
    if (!launcher) throwUnknownKernel(name);
    BufferOperands operands(info.Env(), state_);
    exec::KernelCall call = launcher(operands, objectArg(info, 1, "spec"));
    exec::RunContext run(*st.backend);
    call(run);
    return info.Env().Undefined();
  });
}

// loadPlan(plan: NativePlan, slots: BufferHandle[]) -> PlanHandle (plan_loader.h).
Napi::Value DeviceHandle::loadPlan(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    idle("load a plan");
    Napi::Value plan = info.Length() > 0 ? info[0] : info.Env().Undefined();
    Napi::Value slots = info.Length() > 1 ? info[1] : info.Env().Undefined();
    return addon::loadPlan(info.Env(), state_, plan, slots);
  });
}

// kernels(): the names launch() accepts.
Napi::Value DeviceHandle::kernels(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  std::vector<std::string> names = kernelLauncherNames();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

// Apart from stats(), whose exact figures callers compare before and after: a peak only grows.
Napi::Value DeviceHandle::peakLiveBytes(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  std::shared_ptr<DeviceState> st = accounting_.lock();
  return Napi::Number::New(info.Env(), static_cast<double>(st ? st->peakLiveBytes.load() : 0));
}

Napi::Value DeviceHandle::stats(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  Napi::Object o = Napi::Object::New(info.Env());
  std::shared_ptr<DeviceState> st = accounting_.lock();
  int64_t buffers = st ? st->liveBuffers.load() : 0;
  int64_t bytes = st ? st->liveBytes.load() : 0;
  int64_t reclaimed = st ? st->reclaimedByGc.load() : 0;
  o.Set("liveBuffers", static_cast<double>(buffers));
  o.Set("liveBytes", static_cast<double>(bytes));
  o.Set("reclaimedByGc", static_cast<double>(reclaimed));
#if VIT22B_WITH_CUDA
  if (kind_ == "cuda") {
    // The CUDA GEMM's plan cache (process-wide): a repeated shape must not query the heuristic.
    cuda::GemmCacheStats g = cuda::gemmCacheStats();
    o.Set("gemmHeuristicQueries", static_cast<double>(g.heuristicQueries));
    o.Set("gemmCachedPlans", static_cast<double>(g.plans));
  }
#endif
  // The device allocator's figures (CUDA: the caching allocator), when the backend has one.
  if (st) {
    auto figures = st->backend->allocatorStats();
    if (!figures.empty()) {
      Napi::Object a = Napi::Object::New(info.Env());
      for (const auto& [name, value] : figures) a.Set(name, value);
      o.Set("allocator", a);
    }
  }
  return o;
}

// Buffers still alive keep the backend until they are disposed; the handle itself refuses work.
// Refused while a plan step runs (ERR_DEVICE_BUSY); idempotent otherwise.
Napi::Value DeviceHandle::dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (state_) state_->requireIdle("dispose the device");
    state_.reset();
    return info.Env().Undefined();
  });
}

}  // namespace vit::addon
