#include "cuda/dynamic_library.h"

#include <dlfcn.h>
#include <link.h>

namespace vit::cuda {

void* DynamicLibrary::symbol(const char* name) const { return dlsym(handle_, name); }

std::unique_ptr<DynamicLibrary> openFirst(const std::vector<std::string>& candidates,
                                          const char* requiredSymbol,
                                          std::vector<LoadAttempt>& attempts) {
  for (const std::string& candidate : candidates) {
    dlerror();
    // RTLD_LOCAL keeps the vendor's symbols out of the global namespace (no clash with a copy
    // that PyTorch or another addon may have loaded into the same process).
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* err = dlerror();
      attempts.push_back({candidate, err ? err : "dlopen failed"});
      continue;
    }
    if (!dlsym(handle, requiredSymbol)) {
      attempts.push_back({candidate, std::string("loaded, but has no symbol ") + requiredSymbol});
      dlclose(handle);
      continue;
    }
    std::string resolved = candidate;
    struct link_map* map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0]) {
      resolved = map->l_name;
    }
    return std::make_unique<DynamicLibrary>(handle, resolved);
  }
  return nullptr;
}

}  // namespace vit::cuda
