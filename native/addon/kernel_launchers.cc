#include "addon/kernel_launchers.h"

#include <algorithm>
#include <map>

#include "kernels.h"
#include "core/status.h"

namespace vit::addon {

// One launcher per kernel, generated from its declaration (native/generated/launchers_gen.cc).
#define VIT_LAUNCHER_DECL(id, fn, args, name) \
  exec::KernelCall launch_##fn(LaunchContext& ctx, const Napi::Object& spec);
VIT_KERNELS(VIT_LAUNCHER_DECL)
#undef VIT_LAUNCHER_DECL

namespace {

// Every kernel of VIT_KERNELS under its launch name: a kernel cannot be in the table without a
// launcher, nor the other way round (either would not link).
const std::map<std::string, KernelLauncher>& registry() {
  static const std::map<std::string, KernelLauncher> launchers = {
#define VIT_LAUNCHER_ENTRY(id, fn, args, name) {name, &launch_##fn},
      VIT_KERNELS(VIT_LAUNCHER_ENTRY)
#undef VIT_LAUNCHER_ENTRY
  };
  return launchers;
}

}  // namespace

KernelLauncher findKernelLauncher(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> kernelLauncherNames() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : registry()) names.push_back(name);
  return names;  // std::map keeps them sorted
}

void throwUnknownKernel(const std::string& name) {
  std::string known;
  for (const std::string& n : kernelLauncherNames()) known += (known.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::InvalidArgument, "unknown kernel '" + name + "'", "one of " + known, name);
}

}  // namespace vit::addon
