// A device (the CPU, or one CUDA GPU) as a JavaScript object: allocation, kernels, plans, statistics.
#pragma once

#include <napi.h>

#include <memory>

#include "addon/device_state.h"

namespace vit::addon {

class DeviceHandle : public Napi::ObjectWrap<DeviceHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  // new DeviceHandle(kind: 'cpu' | 'cuda', ordinal: number, threads?: number): `threads` > 0 gives
  // a cpu device a thread pool of its own (a mesh's devices); absent or 0, the process-wide pool.
  explicit DeviceHandle(const Napi::CallbackInfo& info);

  // The device's state (null once disposed), for MeshHandle.
  const std::shared_ptr<DeviceState>& state() const { return state_; }

 private:
  DeviceState& live(const char* use);
  // live(), and not running a plan step (ERR_DEVICE_BUSY).
  DeviceState& idle(const char* use);
  Napi::Value getKind(const Napi::CallbackInfo& info);
  Napi::Value getName(const Napi::CallbackInfo& info);
  Napi::Value alloc(const Napi::CallbackInfo& info);
  Napi::Value synchronize(const Napi::CallbackInfo& info);
  Napi::Value launch(const Napi::CallbackInfo& info);
  Napi::Value loadPlan(const Napi::CallbackInfo& info);
  Napi::Value kernels(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value peakLiveBytes(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<DeviceState> state_;      // null once disposed
  std::weak_ptr<DeviceState> accounting_;   // stats() still answers after dispose, while buffers live
  std::string kind_;
  std::string name_;
};

}  // namespace vit::addon
