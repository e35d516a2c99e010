#include "cpu/emulated_plan_runtime.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/status.h"
#include "kernels.h"

namespace vit::cpu {

namespace {

// The recording being captured on this thread, if any (the plan's worker thread).
thread_local std::vector<std::function<void()>>* t_recording = nullptr;

// Each entry runs the CPU kernel, or while capturing keeps a copy of its arguments to run later.
#define VIT_RECORDING_ENTRY(id, fn, args, name)                                \
  +[](Stream s, const args& a) {                                          \
    if (t_recording) {                                                    \
      t_recording->push_back([s, a] { ::vit::cpu::fn(s, a); });           \
      return;                                                             \
    }                                                                     \
    ::vit::cpu::fn(s, a);                                                 \
  },

const KernelTable& recordingTable() {
  static const KernelTable table = {VIT_KERNELS(VIT_RECORDING_ENTRY)};
  return table;
}

#undef VIT_RECORDING_ENTRY

}  // namespace

bool emulatedPlanRuntimeRequested() {
  const char* env = std::getenv("VIT22B_CPU_PLAN_RUNTIME");
  return env && std::strcmp(env, "1") == 0;
}

EmulatedPlanRuntime::EmulatedPlanRuntime(Stream stream, size_t scalars)
    : stream_(stream), f32_(scalars, 0.0f), i64_(scalars, 0) {
  const char* env = std::getenv("VIT22B_CUDA_GRAPHS");
  graphsEnabled_ = !(env && std::strcmp(env, "0") == 0);
}

void EmulatedPlanRuntime::setRunScalars(const std::vector<double>& values) {
  for (size_t k = 0; k < f32_.size() && k < values.size(); ++k) {
    f32_[k] = static_cast<float>(values[k]);
    const double v = values[k];
    i64_[k] = std::isfinite(v) && std::fabs(v) < 9.0e18 ? static_cast<int64_t>(v) : 0;
  }
}

bool EmulatedPlanRuntime::hasGraph(size_t segment) const {
  return segment < graphs_.size() && graphs_[segment] != nullptr;
}

void EmulatedPlanRuntime::beginCapture() {
  if (capturing_) {
    throw Error(ErrorCode::Internal, "capture begun twice", "one capture at a time", "two");
  }
  capturing_ = std::make_unique<Recording>();
  t_recording = capturing_.get();
}

void EmulatedPlanRuntime::endCapture(size_t segment) {
  t_recording = nullptr;
  if (graphs_.size() <= segment) graphs_.resize(segment + 1);
  graphs_[segment] = std::move(capturing_);
}

void EmulatedPlanRuntime::abortCapture() noexcept {
  t_recording = nullptr;
  capturing_.reset();
}

void EmulatedPlanRuntime::launchGraph(size_t segment) {
  for (const auto& call : *graphs_[segment]) call();
}

const KernelTable* EmulatedPlanRuntime::kernelTable() const { return &recordingTable(); }

}  // namespace vit::cpu
