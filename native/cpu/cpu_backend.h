#pragma once

#include "core/backend.h"
#include "cpu/emulated_plan_runtime.h"
#include "cpu/thread_pool.h"

namespace vit::cpu {

// Host memory as a device: 64-byte aligned allocations (one cache line, one AVX-512 vector).
class CpuBackend final : public Backend {
 public:
  const char* kind() const override { return "cpu"; }
  std::string describe() const override;
  void* allocate(size_t bytes) override;
  void release(void* ptr) noexcept override;
  void upload(void* deviceDst, const void* hostSrc, size_t bytes) override;
  void download(void* hostDst, const void* deviceSrc, size_t bytes) override;
  void synchronize() override {}
  const KernelTable& kernels() const override { return kernelTable(); }
  // Kernels run on the process-wide pool (VIT22B_NUM_THREADS threads, default: usable cores).
  Stream stream() override { return Stream{&defaultThreadPool()}; }

  // Only with VIT22B_CPU_PLAN_RUNTIME=1 (tests): plans run through the CUDA-like emulation of
  // cpu/emulated_plan_runtime.h. Otherwise null: the serial executor, unchanged.
  std::unique_ptr<PlanRuntime> createPlanRuntime(size_t streams, size_t events,
                                                 size_t scalars) override;
  bool readsScalarsOnDevice() const override { return emulate_; }

 private:
  bool emulate_ = emulatedPlanRuntimeRequested();
};

}  // namespace vit::cpu
