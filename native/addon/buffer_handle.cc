#include "addon/buffer_handle.h"

#include "addon/addon_data.h"
#include "addon/args.h"
#include "addon/errors.h"
#include "core/status.h"

namespace vit::addon {

namespace {

HostView hostViewArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return hostViewValue(i < info.Length() ? info[i] : info.Env().Undefined(), name);
}

void checkRange(size_t offset, size_t length, size_t capacity, const char* what) {
  if (offset > capacity || length > capacity - offset) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(what) + " of " + std::to_string(length) + " bytes at offset " +
                    std::to_string(offset) + " does not fit a buffer of " +
                    std::to_string(capacity) + " bytes",
                "offset + length <= " + std::to_string(capacity),
                std::to_string(offset) + " + " + std::to_string(length));
  }
}

}  // namespace

Napi::Function BufferHandle::define(Napi::Env env) {
  Napi::Function ctor = DefineClass(
      env, "BufferHandle",
      {InstanceAccessor<&BufferHandle::getBytes>("bytes"),
       InstanceAccessor<&BufferHandle::getDisposed>("disposed"),
       InstanceMethod<&BufferHandle::upload>("upload"),
       InstanceMethod<&BufferHandle::download>("download"),
       InstanceMethod<&BufferHandle::dispose>("dispose")});
  addonData(env).bufferClass = Napi::Persistent(ctor);
  return ctor;
}

// JavaScript cannot construct a buffer directly (Device.alloc does): the constructor accepts only
// the External that `create` passes.
namespace {
struct PendingBuffer {
  std::shared_ptr<DeviceState> state;
  void* ptr;
  size_t bytes;
};
}  // namespace

Napi::Object BufferHandle::create(Napi::Env env, std::shared_ptr<DeviceState> state, void* ptr,
                                  size_t bytes) {
  PendingBuffer pending{std::move(state), ptr, bytes};
  auto external = Napi::External<PendingBuffer>::New(env, &pending);
  try {
    return addonData(env).bufferClass.New({external});
  } catch (...) {
    if (pending.ptr) pending.state->backend->release(pending.ptr);  // not adopted by a handle
    throw;
  }
}

BufferHandle::BufferHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BufferHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    countEntry(env);  // a call from JavaScript; `create` runs inside an entry already counted
    throw toJsError(env, Error(ErrorCode::InvalidArgument,
                               "BufferHandle cannot be constructed directly; use Device.alloc",
                               "Device.alloc(bytes)", "new BufferHandle()"));
  }
  auto* pending = info[0].As<Napi::External<PendingBuffer>>().Data();
  state_ = pending->state;
  ptr_ = pending->ptr;
  bytes_ = pending->bytes;
  pending->ptr = nullptr;  // adopted
  state_->liveBuffers += 1;
  state_->addLiveBytes(static_cast<int64_t>(bytes_));
}

BufferHandle::~BufferHandle() { releaseMemory(/*fromGc=*/true); }

void BufferHandle::releaseMemory(bool fromGc) noexcept {
  if (!ptr_) return;
  state_->backend->release(ptr_);
  ptr_ = nullptr;
  state_->liveBuffers -= 1;
  state_->liveBytes -= static_cast<int64_t>(bytes_);
  if (fromGc) state_->reclaimedByGc += 1;
  state_.reset();  // a disposed buffer must not keep its device (and its CUDA stream) alive
}

void* BufferHandle::data(const char* use) const {
  if (!ptr_) {
    throw Error(ErrorCode::Disposed, std::string("cannot ") + use + " a disposed buffer",
                "a live buffer", "disposed buffer");
  }
  return ptr_;
}

void BufferHandle::requireOn(const std::shared_ptr<DeviceState>& device,
                             const std::string& what) const {
  if (state_ == device) return;
  throw Error(ErrorCode::DeviceMismatch,
              what + " was allocated by " + state_->label() + ", not by " + device->label(),
              "a buffer of " + device->label(), "a buffer of " + state_->label());
}

BufferHandle* BufferHandle::unwrapArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return unwrapValue(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), name);
}

BufferHandle* BufferHandle::unwrapValue(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addonData(env).bufferClass.Value())) {
    throw Error(ErrorCode::InvalidArgument,
                std::string("argument '") + name + "' must be a device buffer", "BufferHandle",
                jsTypeName(v));
  }
  return Unwrap(v.As<Napi::Object>());
}

Napi::Value BufferHandle::getBytes(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

Napi::Value BufferHandle::getDisposed(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Boolean::New(info.Env(), ptr_ == nullptr);
}

// upload(source: TypedArray | DataView | ArrayBuffer, offsetBytes = 0)
Napi::Value BufferHandle::upload(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    void* dst = data("upload to");
    state_->requireIdle("upload to a buffer");
    HostView src = hostViewArg(info, 0, "source");
    size_t offset = info.Length() > 1 ? static_cast<size_t>(countArg(info, 1, "offsetBytes")) : 0;
    checkRange(offset, src.bytes, bytes_, "upload");
    state_->backend->ensureUsable();
    state_->backend->upload(static_cast<uint8_t*>(dst) + offset, src.data, src.bytes);
    return info.Env().Undefined();
  });
}

// download(target: TypedArray | DataView | ArrayBuffer, offsetBytes = 0): fills target completely.
Napi::Value BufferHandle::download(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    const void* src = data("download from");
    state_->requireIdle("download from a buffer");
    HostView dst = hostViewArg(info, 0, "target");
    size_t offset = info.Length() > 1 ? static_cast<size_t>(countArg(info, 1, "offsetBytes")) : 0;
    checkRange(offset, dst.bytes, bytes_, "download");
    state_->backend->ensureUsable();
    state_->backend->download(dst.data, static_cast<const uint8_t*>(src) + offset, dst.bytes);
    return info.Env().Undefined();
  });
}

// Idempotent: disposing twice is harmless (like closing a closed file in most runtimes' `using`).
// Refused while a plan step runs on the device: the step may be using this memory.
Napi::Value BufferHandle::dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (ptr_) state_->requireIdle("dispose a buffer");
    releaseMemory(/*fromGc=*/false);
    return info.Env().Undefined();
  });
}

}  // namespace vit::addon
