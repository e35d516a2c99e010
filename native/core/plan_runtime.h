// What a backend that runs a plan's streams concurrently gives one loaded plan (native/exec
// LoadedPlan drives it): a stream per plan stream, an event per plan event, a device block holding
// the run's scalars, and the capture of instruction runs into replayable graphs. CUDA implements
// it (native/cuda/cuda_plan_runtime.*); the CPU has none and runs plans serially on its one stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"

namespace vit {

class PlanRuntime {
 public:
  virtual ~PlanRuntime() = default;

  virtual Stream stream(size_t planStream) = 0;
  // Plan events: record when the work queued so far on `planStream` is done; make later work on
  // `planStream` wait for the last record of `event`.
  virtual void recordEvent(size_t planStream, uint64_t event) = 0;
  virtual void waitEvent(size_t planStream, uint64_t event) = 0;
  // fork: every plan stream waits for the work queued so far on stream 0; join: stream 0 waits for
  // the work queued so far on every stream. A capture begins with fork and ends with join.
  virtual void fork() = 0;
  virtual void join() = 0;
  // Waits for every plan stream; surfaces asynchronous failures as vit::Error.
  virtual void synchronize() = 0;
  // Best effort after a failure: waits for every stream, never throws (a sticky fault is noted by
  // the backend, which answers ERR_DEVICE_LOST from then on).
  virtual void drainAfterError() noexcept = 0;

  // The run's scalars as f32 and as i64 (rounded), in device memory: scalar i at f32()[i] and
  // i64()[i]. setRunScalars writes them to a pinned host block and queues the copy on stream 0,
  // ahead of the step's work.
  virtual void setRunScalars(const std::vector<double>& values) = 0;
  virtual const float* runScalarsF32() const = 0;
  virtual const int64_t* runScalarsI64() const = 0;

  // Graphs, one per captured segment of the execution order (exec::LoadedPlan decides the
  // segments). graphsEnabled: capture is allowed at all (VIT22B_CUDA_GRAPHS != 0).
  virtual bool graphsEnabled() const = 0;
  virtual bool hasGraph(size_t segment) const = 0;
  virtual void beginCapture() = 0;                // capture of stream 0 (the forked streams join it)
  virtual void endCapture(size_t segment) = 0;    // instantiates and keeps the segment's graph
  virtual void abortCapture() noexcept = 0;       // ends a capture that failed; drops its graph
  virtual void launchGraph(size_t segment) = 0;   // replays the segment's graph on stream 0

  // A kernel table that replaces the backend's for the plan's calls, or nullptr (CUDA: the
  // backend's own). The CPU emulation (cpu/emulated_plan_runtime.h) records captures through it.
  virtual const KernelTable* kernelTable() const { return nullptr; }
};

}  // namespace vit
