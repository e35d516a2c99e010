// A plan ready to run: per-stream lists of prepared kernel calls, the order they run in (from
// scheduleStreams), and where the step's inputs and outputs live. Holds no memory of its own: the
// arena and the persistent buffers belong to the caller (native/addon/plan_handle.cc), which keeps
// them alive and unchanged for as long as this plan may run.
#pragma once

#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "exec/kernel_call.h"
#include "exec/plan_layout.h"
#include "exec/slot_table.h"

namespace vit::exec {

struct PreparedInstruction {
  KernelCall call;
  InstructionLocation where;
};

class LoadedPlan {
 public:
  LoadedPlan(std::vector<std::vector<PreparedInstruction>> streams, std::vector<StepRef> order,
             std::vector<ResolvedView> inputs, std::vector<ResolvedView> outputs,
             size_t scalarCount);

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
  const std::vector<StepRef>& order() const { return order_; }
  uint64_t profiledRuns() const { return profiledRuns_; }

 private:
  std::vector<std::vector<PreparedInstruction>> streams_;
  std::vector<StepRef> order_;
  std::vector<ResolvedView> inputs_;
  std::vector<ResolvedView> outputs_;
  size_t scalarCount_;
  mutable bool profiling_ = false;
  mutable std::vector<uint64_t> profileNs_;
  mutable uint64_t profiledRuns_ = 0;
};

}  // namespace vit::exec
