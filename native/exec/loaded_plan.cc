#include "exec/loaded_plan.h"

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <exception>
#include <new>
#include <string>

#include "core/status.h"
#include "exec/plan_error.h"

namespace vit::exec {

namespace {

// Any exception of a prepared call as a vit::Error carrying the instruction's place.
[[noreturn]] void rethrowLocated(const InstructionLocation& where) {
  try {
    throw;
  } catch (const Error& e) {
    throw locatedError(where, e);
  } catch (const std::bad_alloc&) {
    throw locatedError(where, Error(ErrorCode::HostOom, "native code ran out of host memory"));
  } catch (const std::exception& e) {
    throw locatedError(where, Error(ErrorCode::Internal, std::string("internal error: ") + e.what()));
  }
}

// VIT22B_CPU_STREAM_THREADS=0 runs a CPU plan's streams serially in the scheduled order instead:
// a way to tell a race between streams (missing event) from a wrong plan.
bool streamThreadsEnabled() {
  static const bool on = [] {
    const char* v = std::getenv("VIT22B_CPU_STREAM_THREADS");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

}  // namespace

LoadedPlan::LoadedPlan(std::vector<std::vector<PreparedInstruction>> streams,
                       std::vector<StepRef> order, std::vector<ResolvedView> inputs,
                       std::vector<ResolvedView> outputs, size_t scalarCount,
                       std::unique_ptr<PlanRuntime> runtime, std::vector<RunScalarUse> runScalarUses)
    : streams_(std::move(streams)), order_(std::move(order)), inputs_(std::move(inputs)),
      outputs_(std::move(outputs)), scalarCount_(scalarCount), runtime_(std::move(runtime)),
      runScalarUses_(std::move(runScalarUses)) {
  positionOf_.resize(streams_.size());
  for (size_t s = 0; s < streams_.size(); ++s) positionOf_[s].assign(streams_[s].size(), 0);
  for (size_t k = 0; k < order_.size(); ++k) {
    positionOf_[order_[k].stream][order_[k].index] = k;
    const PreparedInstruction& ins = streams_[order_[k].stream][order_[k].index];
    if (ins.records) {
      if (recordedAt_.size() <= ins.record) recordedAt_.resize(ins.record + 1, 0);
      recordedAt_[ins.record] = k;
    }
  }
  if (!runtime_) return;
  // Segments: each hostSync instruction alone (direct), the runs between them captured.
  for (size_t k = 0; k < order_.size(); ++k) {
    const PreparedInstruction& ins = streams_[order_[k].stream][order_[k].index];
    if (ins.hostSync) {
      segments_.push_back(Segment{k, k + 1, false});
    } else if (segments_.empty() || !segments_.back().captured) {
      segments_.push_back(Segment{k, k + 1, true});
    } else {
      segments_.back().end = k + 1;
    }
  }
}

void LoadedPlan::run(Backend& backend, const std::vector<std::vector<uint8_t>>& inputs,
                     const std::vector<double>& scalars, const std::vector<void*>& outputs) const {
  if (inputs.size() != inputs_.size() || outputs.size() != outputs_.size() ||
      scalars.size() != scalarCount_) {
    throw Error(ErrorCode::Internal, "plan run with unchecked arguments",
                std::to_string(inputs_.size()) + " inputs, " + std::to_string(outputs_.size()) +
                    " outputs, " + std::to_string(scalarCount_) + " scalars",
                std::to_string(inputs.size()) + ", " + std::to_string(outputs.size()) + ", " +
                    std::to_string(scalars.size()));
  }
  backend.bindThread();
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs[i].size() != inputs_[i].bytes) {
      throw Error(ErrorCode::Internal, "plan input " + std::to_string(i) + " has an unchecked size",
                  std::to_string(inputs_[i].bytes) + " bytes", std::to_string(inputs[i].size()));
    }
    if (!inputs[i].empty()) backend.upload(inputs_[i].address, inputs[i].data(), inputs[i].size());
  }
  if (runtime_) {
    runStreams(backend, scalars);
  } else if (streams_.size() > 1 && streamThreadsEnabled()) {
    runThreaded(backend, scalars);
  } else {
    runSerial(backend, scalars);
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].bytes > 0) backend.download(outputs[i], outputs_[i].address, outputs_[i].bytes);
  }
}

// The CPU path: every instruction in order on the backend's stream.
void LoadedPlan::runSerial(Backend& backend, const std::vector<double>& scalars) const {
  RunContext run(backend, &scalars);
  const bool profile = profiling_;
  for (size_t k = 0; k < order_.size(); ++k) {
    const StepRef& step = order_[k];
    const PreparedInstruction& ins = streams_[step.stream][step.index];
    try {
      const auto t0 = std::chrono::steady_clock::now();
      ins.call(run);
      if (profile) {
        backend.synchronize();
        noteTiming(k, t0);
      }
    } catch (const Error& e) {
      throw locatedError(ins.where, e);
    } catch (const std::bad_alloc&) {
      throw locatedError(ins.where, Error(ErrorCode::HostOom, "native code ran out of host memory"));
    } catch (const std::exception& e) {
      throw locatedError(ins.where,
                         Error(ErrorCode::Internal, std::string("internal error: ") + e.what()));
    }
  }
  backend.synchronize();
  if (profile) ++profiledRuns_;
}

// The CPU with several plan streams: each stream on a thread of its own (stream 0 on the calling
// thread), each instruction starting once the events it waits on are recorded. Kernels of two
// streams share the device's thread pool, which takes their parallel sections in turns, so a
// collective that waits for its peers on the communication stream leaves the compute stream free.
// A missing wait in a plan is then a race that tests can see, not luck of a serial order. The
// first failure stops every stream at its next wait and is rethrown once all have stopped.
void LoadedPlan::runThreaded(Backend& backend, const std::vector<double>& scalars) const {
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<char> recorded;
    bool failed = false;
    std::exception_ptr error;
  } shared;
  shared.recorded.assign(recordedAt_.size(), 0);
  const bool profile = profiling_;
  // Event waits have a deadline too: a wait can only outlast it if a kernel never returns.
  const auto deadline = std::chrono::steady_clock::now() + kStreamWaitLimit;
  auto runStream = [&](size_t s) {
    backend.bindThread();
    RunContext run(backend, &scalars);
    const auto& list = streams_[s];
    for (size_t i = 0; i < list.size(); ++i) {
      const PreparedInstruction& ins = list[i];
      try {
        {
          std::unique_lock<std::mutex> lock(shared.mutex);
          for (uint64_t e : ins.waits) {
            const bool ok = shared.changed.wait_until(lock, deadline, [&] { return shared.failed || shared.recorded[e] != 0; });
            if (shared.failed) return;
            if (!ok) {
              throw Error(ErrorCode::Internal, "waited too long for event " + std::to_string(e) + " of another plan stream",
                          "the event recorded within " + std::to_string(kStreamWaitLimit.count()) + " s", "not recorded");
            }
          }
        }
        const auto t0 = std::chrono::steady_clock::now();
        ins.call(run);
        if (profile) noteTiming(positionOf_[s][i], t0);
        if (ins.records) {
          std::lock_guard<std::mutex> lock(shared.mutex);
          shared.recorded[ins.record] = 1;
          shared.changed.notify_all();
        }
      } catch (...) {
        std::exception_ptr located;
        try {
          rethrowLocated(ins.where);
        } catch (...) {
          located = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(shared.mutex);
        if (!shared.failed) shared.error = located;
        shared.failed = true;
        shared.changed.notify_all();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  try {
    for (size_t s = 1; s < streams_.size(); ++s) threads.emplace_back(runStream, s);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(shared.mutex);
      shared.failed = true;
      shared.changed.notify_all();
    }
    for (std::thread& t : threads) t.join();
    throw Error(ErrorCode::HostOom, "could not start a thread for a plan stream", "a thread per plan stream", "thread creation failed");
  }
  runStream(0);
  for (std::thread& t : threads) t.join();
  if (shared.error) std::rethrow_exception(shared.error);
  backend.synchronize();
  if (profile) ++profiledRuns_;
}

void LoadedPlan::runStreams(Backend& backend, const std::vector<double>& scalars) const {
  RunContext run(backend, &scalars, runtime_.get());
  // A replay invokes no prepared call, so every use of a run scalar is checked here first.
  for (const RunScalarUse& use : runScalarUses_) {
    try {
      use.scalar.checkRunValue(run);
    } catch (...) {
      rethrowLocated(use.where);
    }
  }
  const bool profile = profiling_;
  try {
    runtime_->setRunScalars(scalars);
    const bool graphs = runtime_->graphsEnabled() && !profile && !graphsFailed_;
    if (!graphs) {
      runtime_->fork();
      execute(run, 0, order_.size(), profile);
      runtime_->join();
    } else {
      for (size_t i = 0; i < segments_.size(); ++i) {
        const Segment& seg = segments_[i];
        if (seg.captured && runtime_->hasGraph(i)) {
          runtime_->launchGraph(i);
          continue;
        }
        // Direct: a hostSync instruction, the warm-up run, or after a capture failed just now.
        if (seg.captured && warmedUp_ && !graphsFailed_ && capture(run, i)) {
          runtime_->launchGraph(i);
          continue;
        }
        runtime_->fork();
        execute(run, seg.begin, seg.end, false);
        runtime_->join();
      }
    }
    runtime_->synchronize();
  } catch (...) {
    // Nothing may still run on the plan's streams when the error reaches the caller (who may free
    // or reuse memory); a sticky fault makes this a no-op and the device answers ERR_DEVICE_LOST.
    runtime_->drainAfterError();
    throw;
  }
  warmedUp_ = true;
  if (profile) ++profiledRuns_;
}

void LoadedPlan::execute(RunContext& run, size_t begin, size_t end, bool profile) const {
  for (size_t k = begin; k < end; ++k) {
    const StepRef& step = order_[k];
    const PreparedInstruction& ins = streams_[step.stream][step.index];
    try {
      const auto t0 = std::chrono::steady_clock::now();
      run.setStream(runtime_->stream(step.stream));
      for (uint64_t e : ins.waits) {
        if (recordedAt_[e] >= begin) runtime_->waitEvent(step.stream, e);
      }
      ins.call(run);
      if (ins.records) runtime_->recordEvent(step.stream, ins.record);
      if (profile) {
        runtime_->synchronize();
        noteTiming(k, t0);
      }
    } catch (...) {
      rethrowLocated(ins.where);
    }
  }
}

bool LoadedPlan::capture(RunContext& run, size_t i) const {
  const Segment& seg = segments_[i];
  try {
    runtime_->beginCapture();
    runtime_->fork();
    execute(run, seg.begin, seg.end, false);
    runtime_->join();
    runtime_->endCapture(i);
    return true;
  } catch (const Error& e) {
    runtime_->abortCapture();
    if (e.code() == ErrorCode::DeviceLost) throw;
    graphsFailed_ = true;
    graphFailure_ = "capture of instructions " + std::to_string(seg.begin) + ".." +
                    std::to_string(seg.end - 1) + " of the execution order failed: " + e.message();
    return false;
  } catch (...) {
    runtime_->abortCapture();
    throw;
  }
}

std::string LoadedPlan::graphStatus() const {
  if (!runtime_) return "serial";
  if (graphsFailed_) return "streams (graphs off: " + graphFailure_ + ")";
  if (!runtime_->graphsEnabled()) return "streams (graphs off: VIT22B_CUDA_GRAPHS=0)";
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].captured && runtime_->hasGraph(i)) return "graphs";
  }
  return "streams";
}

void LoadedPlan::noteTiming(size_t k, std::chrono::steady_clock::time_point t0) const {
  const auto t1 = std::chrono::steady_clock::now();
  profileNs_[k] += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  const auto ns = [](std::chrono::steady_clock::time_point t) {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  lastStartNs_[k] = ns(t0);
  lastEndNs_[k] = ns(t1);
}

void LoadedPlan::setProfiling(bool on) const {
  profiling_ = on;
  profileNs_.assign(order_.size(), 0);
  lastStartNs_.assign(order_.size(), 0);
  lastEndNs_.assign(order_.size(), 0);
  profiledRuns_ = 0;
}

}  // namespace vit::exec
