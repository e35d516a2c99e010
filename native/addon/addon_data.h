// Per-environment state of the addon (one per Node.js thread/worker that loads it).
#pragma once

#include <napi.h>

namespace vit::addon {

struct AddonData {
  Napi::FunctionReference errorClass;   // Vit22bError from lib/runtime, once registered
  Napi::FunctionReference bufferClass;  // BufferHandle constructor, for instanceof checks
};

AddonData& addonData(Napi::Env env);

}  // namespace vit::addon
