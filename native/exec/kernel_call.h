// A prepared kernel launch. A launcher (generated from the kernel's declaration, lib/kernels/<kernel>.ts) reads and checks its spec once
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
// With a PlanRuntime (CUDA plans) the stream is the instruction's plan stream, set by LoadedPlan
// before each call, and dynamic scalars are read by the kernels from device memory
// (scalarsOnDevice(); see DynamicScalar::resolveF32).
class RunContext {
 public:
  explicit RunContext(Backend& backend, const std::vector<double>* runScalars = nullptr,
                      PlanRuntime* runtime = nullptr)
      : backend_(backend), runScalars_(runScalars), runtime_(runtime) {}

  const KernelTable& kernels() const {
    const KernelTable* own = runtime_ ? runtime_->kernelTable() : nullptr;
    return own ? *own : backend_.kernels();
  }
  Stream stream() { return hasStream_ ? stream_ : backend_.stream(); }
  void setStream(Stream stream) {
    stream_ = stream;
    hasStream_ = true;
  }

  // The i-th scalar given to run() (ERR_INTERNAL if the index was not checked at load).
  double runScalar(size_t index) const;
  // One f32 of device memory, read after all work queued before it: a plain load on the CPU, a
  // synchronous download on CUDA (after waiting for every plan stream).
  float readF32(const void* deviceAddress);

  // True when prepared calls hand kernels device pointers for dynamic scalars.
  bool scalarsOnDevice() const { return runtime_ != nullptr; }
  // Device addresses of run scalar `index` as f32 and as i64 (scalarsOnDevice() only).
  const float* runScalarF32Ptr(size_t index) const;
  const int64_t* runScalarI64Ptr(size_t index) const;

 private:
  Backend& backend_;
  const std::vector<double>* runScalars_;
  PlanRuntime* runtime_;
  Stream stream_;
  bool hasStream_ = false;
};

using KernelCall = std::function<void(RunContext&)>;

}  // namespace vit::exec
