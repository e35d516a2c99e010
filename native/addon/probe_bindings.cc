#include "addon/probe_bindings.h"

#include <string>
#include <vector>

#include "addon/addon_data.h"
#include "addon/args.h"
#include "addon/errors.h"
#include "core/status.h"
#include "cpu/cpu_features.h"
#include "cpu/isa.h"
#include "cpu/thread_pool.h"
#if VIT22B_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_probe.h"
#include "cuda/vendor_libraries.h"
#endif

namespace vit::addon {

namespace {

Napi::Value cpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
  const cpu::CpuFeatures& f = cpu::detectCpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("vendor", f.vendor);
  o.Set("model", f.model);
  o.Set("threads", f.threads);
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx2", f.avx2);
  features.Set("fma", f.fma);
  features.Set("f16c", f.f16c);
  features.Set("avx512f", f.avx512f);
  features.Set("avx512bw", f.avx512bw);
  features.Set("avx512vl", f.avx512vl);
  features.Set("avx512bf16", f.avx512bf16);
  o.Set("features", features);
  // What the kernels will actually use: the dispatch level (after any VIT22B_CPU_ISA cap) and the
  // thread pool's size (after any VIT22B_NUM_THREADS). Both throw typed errors on bad settings.
  o.Set("kernelIsa", cpu::isaName(cpu::activeIsa()));
  o.Set("kernelThreads", cpu::defaultThreadPool().threads());
  return o;
  });
}

#if VIT22B_WITH_CUDA
Napi::Value cudaProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  countEntry(env);  // cannot fail, so no guard; still an entry
  cuda::CudaProbe p = cuda::probeCuda();
  Napi::Object o = Napi::Object::New(env);
  o.Set("usable", p.usable);
  o.Set("reasonCode", p.reasonCode);
  o.Set("reason", p.reason);
  o.Set("driverVersion", p.driverVersion);
  o.Set("runtimeVersion", p.runtimeVersion);
  Napi::Array devices = Napi::Array::New(env, p.devices.size());
  for (size_t i = 0; i < p.devices.size(); ++i) {
    const cuda::CudaDevice& d = p.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("memoryBytes", static_cast<double>(d.totalMemory));
    dev.Set("smCount", d.smCount);
    dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    dev.Set("pciBusId", d.pciBusId);
    devices.Set(static_cast<uint32_t>(i), dev);
  }
  o.Set("devices", devices);
  return o;
}

std::vector<std::string> candidatesArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) {
    throw Error(ErrorCode::InvalidArgument, "argument 'candidates' must be an array of strings",
                "string[]", info.Length() ? jsTypeName(info[0]) : "undefined");
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) {
      throw Error(ErrorCode::InvalidArgument, "candidates[" + std::to_string(i) + "] must be a string",
                  "string", jsTypeName(v));
    }
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Object vendorLoadToJs(Napi::Env env, const cuda::VendorLoad& load) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("found", load.found);
  if (load.found) {
    o.Set("path", load.path);
    o.Set("version", static_cast<double>(load.version));
    o.Set("versionString", load.versionString);
  }
  Napi::Array attempts = Napi::Array::New(env, load.attempts.size());
  for (size_t i = 0; i < load.attempts.size(); ++i) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("candidate", load.attempts[i].candidate);
    a.Set("error", load.attempts[i].error);
    attempts.Set(static_cast<uint32_t>(i), a);
  }
  o.Set("attempts", attempts);
  return o;
}

Napi::Value loadCublasLt(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return vendorLoadToJs(info.Env(), cuda::loadCublasLt(candidatesArg(info)));
  });
}

Napi::Value loadNccl(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return vendorLoadToJs(info.Env(), cuda::loadNccl(candidatesArg(info)));
  });
}
#endif

}  // namespace

void defineProbeBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, cpuInfo, "cpuInfo"));
#if VIT22B_WITH_CUDA
  exports.Set("cudaProbe", Napi::Function::New(env, cudaProbe, "cudaProbe"));
  exports.Set("loadCublasLt", Napi::Function::New(env, loadCublasLt, "loadCublasLt"));
  exports.Set("loadNccl", Napi::Function::New(env, loadNccl, "loadNccl"));
#endif
}

}  // namespace vit::addon
