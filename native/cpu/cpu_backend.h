#pragma once

#include <memory>

#include "core/backend.h"
#include "cpu/emulated_plan_runtime.h"
#include "cpu/thread_pool.h"

namespace vit::cpu {

// Host memory as a device: 64-byte aligned allocations (one cache line, one AVX-512 vector).
class CpuBackend final : public Backend {
 public:
  // threads == 0: kernels run on the process-wide pool (the default device). threads > 0: on a pool
  // of the device's own, so the devices of a mesh compute at the same time instead of taking turns
  // on the process pool (which admits one caller at a time).
  explicit CpuBackend(int threads = 0);
  const char* kind() const override { return "cpu"; }
  std::string describe() const override;
  void* allocate(size_t bytes) override;
  void release(void* ptr) noexcept override;
  void upload(void* deviceDst, const void* hostSrc, size_t bytes) override;
  void download(void* hostDst, const void* deviceSrc, size_t bytes) override;
  void synchronize() override {}
  const KernelTable& kernels() const override { return kernelTable(); }
  // Kernels run on the device's own pool, or the process-wide one (VIT22B_NUM_THREADS threads,
  // default: usable cores); in a mesh the stream also carries the device's communicators.
  Stream stream() override { return Stream{pool_ ? pool_.get() : &defaultThreadPool(), comms_.get()}; }
  // Threads of the pool the kernels run on.
  int threads() const { return pool_ ? pool_->threads() : defaultThreadPool().threads(); }

  // Only with VIT22B_CPU_PLAN_RUNTIME=1 (tests): plans run through the CUDA-like emulation of
  // cpu/emulated_plan_runtime.h. Otherwise null: the serial executor, unchanged.
  std::unique_ptr<PlanRuntime> createPlanRuntime(size_t streams, size_t events,
                                                 size_t scalars) override;
  bool readsScalarsOnDevice() const override { return emulate_; }

 private:
  std::unique_ptr<ThreadPool> pool_;  // null: the process-wide pool
  bool emulate_ = emulatedPlanRuntimeRequested();
};

}  // namespace vit::cpu
