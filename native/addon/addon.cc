// Module entry of both addons (vit22b-cpu.node and vit22b-cuda.node): they export the same surface,
// and the CUDA one adds cudaProbe/loadCublasLt/loadNccl and the 'cuda' device kind.
#include <napi.h>

#include "addon/addon_data.h"
#include "addon/buffer_handle.h"
#include "addon/device_handle.h"
#include "addon/errors.h"
#include "addon/mesh_handle.h"
#include "addon/mpi_bindings.h"
#include "addon/plan_handle.h"
#include "addon/probe_bindings.h"
#if VIT22B_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace vit::addon {

AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

namespace {

Napi::Object buildInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("variant", VIT22B_WITH_CUDA ? "cuda" : "cpu");
  o.Set("napiVersion", NAPI_VERSION);
#if defined(__clang__)
  o.Set("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  o.Set("compiler", "gcc " __VERSION__);
#endif
#if VIT22B_WITH_CUDA
  o.Set("cudaRuntime", CUDART_VERSION);
  o.Set("cudaArchitectures", VIT22B_CUDA_ARCHS);
#endif
  return o;
}

// napiCalls(): the calls from JavaScript into this addon so far (addon_data.h), itself not counted,
// so that reading the counter around a step measures the step alone.
Napi::Value napiCalls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(addonData(info.Env()).napiCalls));
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("build", buildInfo(env));
  exports.Set("setErrorClass", Napi::Function::New(env, setErrorClass, "setErrorClass"));
  exports.Set("DeviceHandle", DeviceHandle::define(env));
  exports.Set("BufferHandle", BufferHandle::define(env));
  exports.Set("PlanHandle", PlanHandle::define(env));
  exports.Set("MeshHandle", MeshHandle::define(env));
  exports.Set("napiCalls", Napi::Function::New(env, napiCalls, "napiCalls"));
  defineProbeBindings(env, exports);
  defineMpiBindings(env, exports);
  return exports;
}

}  // namespace vit::addon

// NODE_API_MODULE wants an unqualified name.
static Napi::Object initVit22b(Napi::Env env, Napi::Object exports) {
  return vit::addon::init(env, exports);
}

NODE_API_MODULE(NODE_GYP_MODULE_NAME, initVit22b)
