// One registry of kernel launchers, for DeviceHandle.launch(name, spec) and for plan instructions.
// Each kernel's binding file (native/addon/<op>_binding.cc) registers a launcher that reads and
// validates `spec` through a LaunchContext (buffers as BufferHandles or PlanViews, sizes and scalars
// as numbers) and returns the prepared call: launch() invokes it at once, a loaded plan on every
// run. Adding a kernel therefore touches no shared addon file.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "addon/launch_context.h"
#include "exec/kernel_call.h"

namespace vit::addon {

// Throws vit::Error (typed) for bad specs; the caller turns it into a JavaScript error. The
// returned call captures plain values only (pointers, sizes, scalars), never JavaScript handles,
// so it may run on any thread.
using KernelLauncher = exec::KernelCall (*)(LaunchContext& ctx, const Napi::Object& spec);

// Called from static initialisers, so the registry is a function-local static (no init-order issue).
bool registerKernelLauncher(const char* name, KernelLauncher launcher);
KernelLauncher findKernelLauncher(const std::string& name);  // nullptr when unknown
std::vector<std::string> kernelLauncherNames();                // sorted
// ERR_INVALID_ARGUMENT "unknown kernel '<name>'" listing the known ones.
[[noreturn]] void throwUnknownKernel(const std::string& name);

}  // namespace vit::addon

// At namespace scope in a binding file: VIT_REGISTER_KERNEL_LAUNCHER("gelu", launchGelu);
#define VIT_REGISTER_KERNEL_LAUNCHER(name, fn) \
  static const bool vitRegistered_##fn = ::vit::addon::registerKernelLauncher(name, fn)
