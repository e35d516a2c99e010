// dlopen with a record of every place tried, so "library not found" can say where it looked.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace vit::cuda {

struct LoadAttempt {
  std::string candidate;  // what was passed to dlopen (a path, or a bare soname for ld.so's search)
  std::string error;      // dlerror(), or the missing symbol
};

class DynamicLibrary {
 public:
  DynamicLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  // Never dlclose'd: vendor libraries register atexit handlers and threads that outlive us.
  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;

  const std::string& path() const { return path_; }  // the file ld.so actually mapped
  void* symbol(const char* name) const;                // nullptr when absent

  template <typename Fn>
  Fn function(const char* name) const {
    return reinterpret_cast<Fn>(symbol(name));
  }

 private:
  void* handle_;
  std::string path_;
};

// Opens the first candidate that loads and exports `requiredSymbol`; appends every failure to
// `attempts`. Returns nullptr when none does.
std::unique_ptr<DynamicLibrary> openFirst(const std::vector<std::string>& candidates,
                                          const char* requiredSymbol,
                                          std::vector<LoadAttempt>& attempts);

}  // namespace vit::cuda
