#include "addon/plan_run_worker.h"

#include <exception>
#include <new>

#include "addon/errors.h"

namespace vit::addon {

PlanRunWorker::PlanRunWorker(Napi::Env env, Napi::Promise::Deferred deferred,
                             Napi::Object planObject, std::shared_ptr<DeviceState> state,
                             std::shared_ptr<const exec::LoadedPlan> plan,
                             std::vector<std::vector<uint8_t>> inputs, std::vector<double> scalars)
    : Napi::AsyncWorker(env, "vit22b.PlanHandle.run"), deferred_(deferred),
      planRef_(Napi::Persistent(planObject)), state_(std::move(state)), plan_(std::move(plan)),
      inputs_(std::move(inputs)), scalars_(std::move(scalars)) {
  for (size_t i = 0; i < plan_->outputCount(); ++i) {
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, static_cast<size_t>(plan_->outputBytes(i)));
    outputData_.push_back(out.Data());
    outputRefs_.push_back(Napi::Persistent(out));
  }
}

void PlanRunWorker::Execute() {
  // Errors become values here: an exception escaping Execute would reach node-addon-api, which
  // reports it without our code, expected and received.
  try {
    plan_->run(*state_->backend, inputs_, scalars_, outputData_);
  } catch (const Error& e) {
    error_ = e;
  } catch (const std::bad_alloc&) {
    error_ = Error(ErrorCode::HostOom, "native code ran out of host memory during a plan step");
  } catch (const std::exception& e) {
    error_ = Error(ErrorCode::Internal, std::string("internal error: ") + e.what());
  } catch (...) {
    error_ = Error(ErrorCode::Internal, "internal error: unknown C++ exception in a plan step");
  }
}

void PlanRunWorker::settle(const Napi::Value* rejection) {
  state_->planRunning = false;
  Napi::Env env = Env();
  if (rejection) {
    deferred_.Reject(*rejection);
  } else if (error_) {
    deferred_.Reject(toJsError(env, *error_).Value());
  } else {
    Napi::Array outputs = Napi::Array::New(env, outputRefs_.size());
    for (size_t i = 0; i < outputRefs_.size(); ++i) {
      outputs.Set(static_cast<uint32_t>(i), outputRefs_[i].Value());
    }
    deferred_.Resolve(outputs);
  }
}

void PlanRunWorker::OnOK() {
  try {
    settle(nullptr);
  } catch (...) {
    // Building the result failed (out of memory in V8, say): the promise must still settle.
    Napi::Value e = currentExceptionToJs(Env()).Value();
    deferred_.Reject(e);
  }
}

// Only reached if node-addon-api itself reports a failure (Execute never calls SetError).
void PlanRunWorker::OnError(const Napi::Error& error) {
  Napi::Value v = error.Value();
  settle(&v);
}

}  // namespace vit::addon
