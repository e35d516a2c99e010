// A prepared kernel launch. A launcher (native/addon/<op>_binding.cc) reads and checks its spec once
// and returns a KernelCall holding the finished argument struct; invoking the call runs the kernel.
// DeviceHandle.launch invokes it at once; a loaded plan keeps it and invokes it on every run, so a
// training step does no parsing and no checking of fixed operands.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/backend.h"

namespace vit::exec {

// What a call needs when it runs: the backend (kernel table, stream) and the values that change
// from one run to the next (the run's scalars, device memory read just before the kernel).
class RunContext {
 public:
  explicit RunContext(Backend& backend, const std::vector<double>* runScalars = nullptr)
      : backend_(backend), runScalars_(runScalars) {}

  const KernelTable& kernels() const { return backend_.kernels(); }
  Stream stream() { return backend_.stream(); }

  // The i-th scalar given to run() (ERR_INTERNAL if the index was not checked at load).
  double runScalar(size_t index) const;
  // One f32 of device memory, read after all work queued before it: a plain load on the CPU, a
  // synchronous download on CUDA.
  float readF32(const void* deviceAddress);

 private:
  Backend& backend_;
  const std::vector<double>* runScalars_;
};

using KernelCall = std::function<void(RunContext&)>;

}  // namespace vit::exec
