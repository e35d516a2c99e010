#include "exec/loaded_plan.h"

#include <chrono>

#include <exception>
#include <new>
#include <string>

#include "core/status.h"
#include "exec/plan_error.h"

namespace vit::exec {

LoadedPlan::LoadedPlan(std::vector<std::vector<PreparedInstruction>> streams,
                       std::vector<StepRef> order, std::vector<ResolvedView> inputs,
                       std::vector<ResolvedView> outputs, size_t scalarCount)
    : streams_(std::move(streams)), order_(std::move(order)), inputs_(std::move(inputs)),
      outputs_(std::move(outputs)), scalarCount_(scalarCount) {}

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
        profileNs_[k] += static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
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
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].bytes > 0) backend.download(outputs[i], outputs_[i].address, outputs_[i].bytes);
  }
}

void LoadedPlan::setProfiling(bool on) const {
  profiling_ = on;
  profileNs_.assign(order_.size(), 0);
  profiledRuns_ = 0;
}

}  // namespace vit::exec
