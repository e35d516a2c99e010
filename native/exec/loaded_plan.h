// A plan ready to run: per-stream lists of prepared kernel calls, the order they run in (from
// scheduleStreams), and where the step's inputs and outputs live. Holds no memory of its own: the
// arena and the persistent buffers belong to the caller (native/addon/plan_handle.cc), which keeps
// them alive and unchanged for as long as this plan may run.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/plan_runtime.h"
#include "exec/dynamic_scalar.h"
#include "exec/kernel_call.h"
#include "exec/plan_layout.h"
#include "exec/slot_table.h"

namespace vit::exec {

struct PreparedInstruction {
  KernelCall call;
  InstructionLocation where;
  // Events (used with a PlanRuntime only: serial runs need none).
  std::vector<uint64_t> waits;
  bool records = false;
  uint64_t record = 0;
  // Needs the host to see device memory while it runs (assert_finite's check, a {read} of an
  // integer field): never captured in a CUDA graph; the step's graph is split around it.
  bool hostSync = false;
};

// A run scalar some instruction uses, for the range checks before a graph replay.
struct RunScalarUse {
  DynamicScalar scalar;
  InstructionLocation where;
};

// With a PlanRuntime (CUDA), a run goes like this:
//   - the run scalars are range-checked (every use) and copied to the runtime's device block;
//   - each plan stream runs on its own device stream, each record/wait is a device event;
//   - the execution order is cut into segments: every hostSync instruction is a segment of its
//     own, the instructions between them form captured segments. At each segment boundary the
//     streams join into stream 0 and fork from it again, so a later segment sees all earlier work
//     and waits on events recorded in earlier segments are already satisfied (they are skipped);
//   - the first run executes everything directly (it warms up the allocator and any lazily
//     created kernel resources); the second captures each captured segment into a CUDA graph and
//     launches it; later runs only launch the graphs. A capture that fails (an instruction whose
//     kernel synchronizes or allocates, say) turns graphs off for this plan (graphStatus() says
//     why) and the step runs directly; an ERR_DEVICE_LOST is never retried.
//   - graphs are off altogether while profiling, and with VIT22B_CUDA_GRAPHS=0.
// Without a runtime (the CPU) a one-stream plan runs serially in `order` on the backend's stream, and a
// plan of several streams runs each stream on a thread of its own, ordered by its events (runThreaded).
class LoadedPlan {
 public:
  LoadedPlan(std::vector<std::vector<PreparedInstruction>> streams, std::vector<StepRef> order,
             std::vector<ResolvedView> inputs, std::vector<ResolvedView> outputs,
             size_t scalarCount, std::unique_ptr<PlanRuntime> runtime = nullptr,
             std::vector<RunScalarUse> runScalarUses = {});

  size_t inputCount() const { return inputs_.size(); }
  uint64_t inputBytes(size_t i) const { return inputs_[i].bytes; }
  size_t outputCount() const { return outputs_.size(); }
  uint64_t outputBytes(size_t i) const { return outputs_[i].bytes; }
  size_t scalarCount() const { return scalarCount_; }
  size_t instructionCount() const { return order_.size(); }

  // One step, on the calling thread (a worker thread for PlanHandle.run): binds the thread to the
  // device, uploads inputs[i] into input view i, runs every instruction in order, waits for the
  // device, and downloads output view i into outputs[i] (host memory of outputBytes(i) bytes).
  // Sizes and counts are the caller's to check; a failing instruction throws its vit::Error with
  // the instruction's location before the message.
  void run(Backend& backend, const std::vector<std::vector<uint8_t>>& inputs,
           const std::vector<double>& scalars, const std::vector<void*>& outputs) const;

  // Per-instruction timing, for finding where a step's time goes (`vit22b bench step --profile`).
  // When on, each instruction is followed by a device synchronize (a no-op on the CPU) and its
  // wall time is added to its entry. Read and switched only while no run is in flight (the device's
  // busy rule), so the counters need no lock.
  void setProfiling(bool on) const;
  // Nanoseconds per position of the execution order, summed over profiled runs.
  const std::vector<uint64_t>& profileNs() const { return profileNs_; }
  // When each instruction of the last profiled run started and ended, in steady-clock nanoseconds
  // (the same clock for every device of a process, so a mesh's ranks line up in one timeline).
  const std::vector<int64_t>& lastStartNs() const { return lastStartNs_; }
  const std::vector<int64_t>& lastEndNs() const { return lastEndNs_; }
  const std::vector<StepRef>& order() const { return order_; }
  uint64_t profiledRuns() const { return profiledRuns_; }

  // How steps run: "serial" (no runtime: the CPU), "streams" (direct launches on device streams:
  // graphs disabled, profiling, or before the first capture), "graphs" (the captured segments are
  // replayed), or "streams (graphs off: <why>)" after a failed capture.
  std::string graphStatus() const;
  size_t segmentCount() const { return segments_.size(); }

 private:
  struct Segment {
    size_t begin = 0, end = 0;  // positions in order_
    bool captured = false;
  };

  void runSerial(Backend& backend, const std::vector<double>& scalars) const;
  void runStreams(Backend& backend, const std::vector<double>& scalars) const;
  void runThreaded(Backend& backend, const std::vector<double>& scalars) const;
  static constexpr std::chrono::seconds kStreamWaitLimit{600};
  // Instructions order_[begin, end) on their streams; waits on events recorded before `begin` are
  // skipped (the fork at the segment's start covers them). Errors carry the instruction's place.
  void execute(RunContext& run, size_t begin, size_t end, bool profile) const;
  // Captures segment `i` into its graph. False (graphs off from now on, reason kept) when the
  // capture failed for any reason but a lost device.
  bool capture(RunContext& run, size_t i) const;
  // Adds instruction k's time since t0 to its profile and keeps its span for the timeline.
  void noteTiming(size_t k, std::chrono::steady_clock::time_point t0) const;

  std::vector<std::vector<PreparedInstruction>> streams_;
  std::vector<StepRef> order_;
  std::vector<ResolvedView> inputs_;
  std::vector<ResolvedView> outputs_;
  size_t scalarCount_;
  std::unique_ptr<PlanRuntime> runtime_;
  std::vector<RunScalarUse> runScalarUses_;
  std::vector<Segment> segments_;
  std::vector<size_t> recordedAt_;  // event -> position in order_ of the instruction recording it
  std::vector<std::vector<size_t>> positionOf_;  // [stream][index] -> position in order_
  mutable bool warmedUp_ = false;      // one successful direct run done
  mutable bool graphsFailed_ = false;
  mutable std::string graphFailure_;
  mutable bool profiling_ = false;
  mutable std::vector<uint64_t> profileNs_;
  mutable std::vector<int64_t> lastStartNs_;
  mutable std::vector<int64_t> lastEndNs_;
  mutable uint64_t profiledRuns_ = 0;
};

}  // namespace vit::exec
