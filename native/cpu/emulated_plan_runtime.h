// A PlanRuntime for the CPU that imitates CUDA's, for tests on machines without a GPU: with
// VIT22B_CPU_PLAN_RUNTIME=1 (read when a cpu device is opened) a CPU device runs plans the way the
// CUDA backend does -- dynamic scalars as pointers into a run-scalar block, the step cut into
// segments at host-sync instructions, a direct first run, then "capture": the kernel calls of each
// segment are recorded (argument structs frozen, exactly what a CUDA graph keeps) instead of run,
// and later runs replay the recordings without invoking the prepared calls. Streams, events, fork
// and join are no-ops (the CPU runs in order anyway). Off by default: the CPU path is unchanged.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/plan_runtime.h"

namespace vit::cpu {

// True when VIT22B_CPU_PLAN_RUNTIME=1.
bool emulatedPlanRuntimeRequested();

class EmulatedPlanRuntime final : public PlanRuntime {
 public:
  EmulatedPlanRuntime(Stream stream, size_t scalars);

  Stream stream(size_t) override { return stream_; }
  void recordEvent(size_t, uint64_t) override {}
  void waitEvent(size_t, uint64_t) override {}
  void fork() override {}
  void join() override {}
  void synchronize() override {}
  void drainAfterError() noexcept override {}

  void setRunScalars(const std::vector<double>& values) override;
  const float* runScalarsF32() const override { return f32_.data(); }
  const int64_t* runScalarsI64() const override { return i64_.data(); }

  bool graphsEnabled() const override { return graphsEnabled_; }
  bool hasGraph(size_t segment) const override;
  void beginCapture() override;
  void endCapture(size_t segment) override;
  void abortCapture() noexcept override;
  void launchGraph(size_t segment) override;
  const KernelTable* kernelTable() const override;

 private:
  using Recording = std::vector<std::function<void()>>;
  Stream stream_;
  std::vector<float> f32_;
  std::vector<int64_t> i64_;
  bool graphsEnabled_ = true;
  std::unique_ptr<Recording> capturing_;
  std::vector<std::unique_ptr<Recording>> graphs_;
};

}  // namespace vit::cpu
