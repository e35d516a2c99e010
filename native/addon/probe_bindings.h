// What the machine offers, for `vit22b info` and device selection: CPU features, the CUDA probe
// and the run-time loading of cuBLASLt and NCCL. None of these throw on a machine without a GPU.
#pragma once

#include <napi.h>

namespace vit::addon {

void defineProbeBindings(Napi::Env env, Napi::Object exports);

}  // namespace vit::addon
