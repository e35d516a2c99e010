// The launchers of every kernel, for DeviceHandle.launch(name, spec) and for plan instructions.
// They are generated from the kernel declarations (lib/kernels/<kernel>.ts, by
// scripts/gen-kernels.mjs into native/generated/launchers_gen.cc), one per entry of VIT_KERNELS:
// each reads and validates `spec` through a LaunchContext (buffers as BufferHandles or PlanViews,
// sizes and scalars as numbers) and returns the prepared call: launch() invokes it at once, a loaded
// plan on every run.
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

KernelLauncher findKernelLauncher(const std::string& name);  // nullptr when unknown
std::vector<std::string> kernelLauncherNames();                // sorted
// ERR_INVALID_ARGUMENT "unknown kernel '<name>'" listing the known ones.
[[noreturn]] void throwUnknownKernel(const std::string& name);

}  // namespace vit::addon
