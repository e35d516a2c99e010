// A block of device memory owned by a JavaScript object. dispose() frees it at once; the GC
// finalizer is only a backstop for forgotten buffers (counted in DeviceState::reclaimedByGc).
#pragma once

#include <napi.h>

#include <memory>

#include "addon/device_state.h"

namespace vit::addon {

class BufferHandle : public Napi::ObjectWrap<BufferHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  // Wraps memory already allocated on `state`'s backend; the handle owns it from here on.
  static Napi::Object create(Napi::Env env, std::shared_ptr<DeviceState> state, void* ptr,
                             size_t bytes);
  static BufferHandle* unwrapArg(const Napi::CallbackInfo& info, size_t i, const char* name);
  static BufferHandle* unwrapValue(Napi::Env env, const Napi::Value& v, const char* name);

  explicit BufferHandle(const Napi::CallbackInfo& info);
  ~BufferHandle() override;

  // Throws ERR_DISPOSED after dispose().
  void* data(const char* use) const;
  size_t bytes() const { return bytes_; }
  bool disposed() const { return ptr_ == nullptr; }
  const std::shared_ptr<DeviceState>& state() const { return state_; }
  // Throws ERR_DEVICE_MISMATCH unless this (live) buffer was allocated by `device`.
  void requireOn(const std::shared_ptr<DeviceState>& device, const std::string& what) const;

 private:
  Napi::Value getBytes(const Napi::CallbackInfo& info);
  Napi::Value getDisposed(const Napi::CallbackInfo& info);
  Napi::Value upload(const Napi::CallbackInfo& info);
  Napi::Value download(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  void releaseMemory(bool fromGc) noexcept;

  std::shared_ptr<DeviceState> state_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace vit::addon
