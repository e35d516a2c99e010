// One N-API entry point for every kernel: DeviceHandle.launch(name, spec). Each kernel's binding
// file (native/addon/<op>_binding.cc) registers a launcher that reads and validates `spec` (buffers
// as BufferHandles, sizes and scalars as numbers) and runs the kernel on the device. Adding a kernel
// therefore touches no shared addon file. Single kernels are for tests, benchmarks and eager use;
// training steps will run whole plans through native/exec instead.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon/device_state.h"

namespace vit::addon {

// Throws vit::Error (typed) for bad specs; the caller turns it into a JavaScript error.
using KernelLauncher = void (*)(Napi::Env env, const Napi::Object& spec,
                                const std::shared_ptr<DeviceState>& device);

// Called from static initialisers, so the registry is a function-local static (no init-order issue).
bool registerKernelLauncher(const char* name, KernelLauncher launcher);
KernelLauncher findKernelLauncher(const std::string& name);  // nullptr when unknown
std::vector<std::string> kernelLauncherNames();                // sorted

}  // namespace vit::addon

// At namespace scope in a binding file: VIT_REGISTER_KERNEL_LAUNCHER("gelu", launchGelu);
#define VIT_REGISTER_KERNEL_LAUNCHER(name, fn) \
  static const bool vitRegistered_##fn = ::vit::addon::registerKernelLauncher(name, fn)
