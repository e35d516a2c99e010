#include "addon/kernel_launchers.h"

#include <algorithm>
#include <map>

#include "core/status.h"

namespace vit::addon {

namespace {

std::map<std::string, KernelLauncher>& registry() {
  static std::map<std::string, KernelLauncher> launchers;
  return launchers;
}

}  // namespace

bool registerKernelLauncher(const char* name, KernelLauncher launcher) {
  registry()[name] = launcher;
  return true;
}

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
