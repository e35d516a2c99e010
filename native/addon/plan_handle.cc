#include "addon/plan_handle.h"

#include <string>

#include "addon/addon_data.h"
#include "addon/args.h"
#include "addon/errors.h"
#include "addon/plan_run_worker.h"
#include "core/status.h"

namespace vit::addon {

Napi::Function PlanHandle::define(Napi::Env env) {
  Napi::Function ctor =
      DefineClass(env, "PlanHandle",
                  {InstanceAccessor<&PlanHandle::getArenaBytes>("arenaBytes"),
                   InstanceAccessor<&PlanHandle::getDisposed>("disposed"),
                   InstanceAccessor<&PlanHandle::getInstructions>("instructions"),
                   InstanceAccessor<&PlanHandle::getExecution>("execution"),
                   InstanceMethod<&PlanHandle::run>("run"),
                   InstanceMethod<&PlanHandle::setProfiling>("setProfiling"),
                   InstanceMethod<&PlanHandle::profile>("profile"),
                   InstanceMethod<&PlanHandle::dispose>("dispose")});
  addonData(env).planClass = Napi::Persistent(ctor);
  return ctor;
}

// JavaScript cannot construct a plan directly (DeviceHandle.loadPlan does): the constructor accepts
// only the External that `create` passes.
Napi::Object PlanHandle::create(Napi::Env env, PlanParts parts) {
  auto external = Napi::External<PlanParts>::New(env, &parts);
  return addonData(env).planClass.New({external});
}

PlanHandle::PlanHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PlanHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    countEntry(env);  // a call from JavaScript; `create` runs inside loadPlan's entry
    throw toJsError(env, Error(ErrorCode::InvalidArgument,
                               "PlanHandle cannot be constructed directly; use Device.loadPlan",
                               "Device.loadPlan(plan, slots)", "new PlanHandle()"));
  }
  PlanParts& parts = *info[0].As<Napi::External<PlanParts>>().Data();
  state_ = std::move(parts.state);
  arena_ = std::move(parts.arena);
  plan_ = std::move(parts.plan);
  slots_ = std::move(parts.slots);
  for (const Napi::Object& o : parts.slotObjects) slotRefs_.push_back(Napi::Persistent(o));
  arenaBytes_ = arena_->bytes();
  instructions_ = plan_->instructionCount();
}

// The GC found the plan undisposed: free the arena as a backstop and count it as a leak. The slot
// references are dropped with the members, which lets the slot buffers be collected in turn.
PlanHandle::~PlanHandle() {
  if (arena_) arena_->markReclaimedByGc();
}

Napi::Value PlanHandle::getArenaBytes(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(arenaBytes_));
}

Napi::Value PlanHandle::getDisposed(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Boolean::New(info.Env(), state_ == nullptr);
}

Napi::Value PlanHandle::getInstructions(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(instructions_));
}

// "serial" (CPU), "streams", "graphs", or "streams (graphs off: <why>)": exec::LoadedPlan::graphStatus.
// Read while idle only (the worker may be capturing); mid-run it answers "running".
Napi::Value PlanHandle::getExecution(const Napi::CallbackInfo& info) {
  countEntry(info.Env());
  if (!state_) return Napi::String::New(info.Env(), "disposed");
  if (state_->planRunning.load()) return Napi::String::New(info.Env(), "running");
  return Napi::String::New(info.Env(), plan_->graphStatus());
}

// run(inputs: ArrayBufferView[], scalars?: number[]) -> Promise<ArrayBuffer[]>. Never throws:
// every failure, including the argument checks made here on the JavaScript thread, rejects the
// promise with a Vit22bError.
Napi::Value PlanHandle::run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  countEntry(env);
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  try {
    startRun(info, deferred);
  } catch (...) {
    deferred.Reject(currentExceptionToJs(env).Value());
  }
  return deferred.Promise();
}

void PlanHandle::startRun(const Napi::CallbackInfo& info, Napi::Promise::Deferred deferred) {
  Napi::Env env = info.Env();
  PreparedRun prepared = prepareRun(env, info.Length() > 0 ? info[0] : env.Undefined(),
                                    info.Length() > 1 ? info[1] : env.Undefined());
  auto* worker = new PlanRunWorker(env, deferred, Value(), state_, plan_, std::move(prepared.inputs),
                                   std::move(prepared.scalars));
  worker->Queue();
  // Marked after Queue (which cannot settle the promise before this call returns: OnOK runs on this
  // thread), so a failure to queue leaves the device idle.
  state_->planRunning = true;
}

PreparedRun PlanHandle::prepareRun(Napi::Env env, const Napi::Value& inputsArg,
                                   const Napi::Value& scalarsArg) {
  if (!state_) {
    throw Error(ErrorCode::Disposed, "cannot run a disposed plan", "a live plan", "disposed plan");
  }
  state_->requireIdle("run a plan");
  state_->backend->ensureUsable();
  const exec::LoadedPlan& plan = *plan_;

  if (!inputsArg.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, "plan run inputs must be an array",
                "an array of " + std::to_string(plan.inputCount()) + " ArrayBufferViews",
                jsTypeName(inputsArg));
  }
  Napi::Array inputs = inputsArg.As<Napi::Array>();
  if (inputs.Length() != plan.inputCount()) {
    throw Error(ErrorCode::InvalidArgument, "plan run got the wrong number of inputs",
                std::to_string(plan.inputCount()) + " inputs", std::to_string(inputs.Length()));
  }
  std::vector<HostView> views(plan.inputCount());
  for (uint32_t i = 0; i < inputs.Length(); ++i) {
    const std::string name = "inputs[" + std::to_string(i) + "]";
    views[i] = hostViewValue(inputs.Get(i), name);
    if (views[i].bytes != plan.inputBytes(i)) {
      throw Error(ErrorCode::ShapeMismatch, "plan run " + name + " has the wrong size",
                  std::to_string(plan.inputBytes(i)) + " bytes",
                  std::to_string(views[i].bytes) + " bytes");
    }
  }

  std::vector<double> scalars;
  if (!scalarsArg.IsUndefined()) {
    if (!scalarsArg.IsArray()) {
      throw Error(ErrorCode::InvalidArgument, "plan run scalars must be an array of numbers",
                  "number[]", jsTypeName(scalarsArg));
    }
    Napi::Array arr = scalarsArg.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsNumber()) {
        throw Error(ErrorCode::InvalidArgument,
                    "plan run scalars[" + std::to_string(i) + "] must be a number", "number",
                    jsTypeName(v));
      }
      // Ranges depend on the field a scalar feeds, so values are checked where they are used,
      // on the worker; a bad one rejects this run's promise.
      scalars.push_back(v.As<Napi::Number>().DoubleValue());
    }
  }
  if (scalars.size() != plan.scalarCount()) {
    throw Error(ErrorCode::InvalidArgument, "plan run got the wrong number of scalars",
                std::to_string(plan.scalarCount()) + " scalars", std::to_string(scalars.size()));
  }

  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]->disposed()) {
      throw Error(ErrorCode::Disposed,
                  "plan slot " + std::to_string(i + 1) +
                      "'s buffer was disposed; the plan cannot run without it",
                  "a live buffer for every slot", "slot " + std::to_string(i + 1) + " disposed");
    }
  }

  PreparedRun out;
  out.inputs.resize(views.size());
  for (size_t i = 0; i < views.size(); ++i) out.inputs[i].assign(views[i].data, views[i].data + views[i].bytes);
  out.scalars = std::move(scalars);
  return out;
}

// setProfiling(on): per-instruction timing from the next run on (counters reset). Refused mid-run.
Napi::Value PlanHandle::setProfiling(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (!state_) throw Error(ErrorCode::Disposed, "this plan was disposed", "a live plan", "disposed");
    state_->requireIdle("switch plan profiling");
    if (info.Length() < 1 || !info[0].IsBoolean()) {
      throw Error(ErrorCode::InvalidArgument, "setProfiling takes a boolean", "true | false",
                  info.Length() < 1 ? "nothing" : jsTypeName(info[0]));
    }
    plan_->setProfiling(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

// profile() -> { runs, entries: [{ stream, index, ns, startNs, endNs }] } in execution order.
// Refused mid-run.
Napi::Value PlanHandle::profile(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (!state_) throw Error(ErrorCode::Disposed, "this plan was disposed", "a live plan", "disposed");
    state_->requireIdle("read a plan profile");
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("runs", static_cast<double>(plan_->profiledRuns()));
    const auto& ns = plan_->profileNs();
    Napi::Array entries = Napi::Array::New(env, ns.size());
    for (size_t k = 0; k < ns.size(); ++k) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("stream", static_cast<double>(plan_->order()[k].stream));
      e.Set("index", static_cast<double>(plan_->order()[k].index));
      e.Set("ns", static_cast<double>(ns[k]));
      // The last profiled run's span (steady-clock ns; exact in a double for ~104 days of uptime).
      e.Set("startNs", static_cast<double>(plan_->lastStartNs()[k]));
      e.Set("endNs", static_cast<double>(plan_->lastEndNs()[k]));
      entries.Set(static_cast<uint32_t>(k), e);
    }
    out.Set("entries", entries);
    return out;
  });
}

// Idempotent. Refused while a step runs on the device (this plan's or another's): memory is
// never freed under a running step.
Napi::Value PlanHandle::dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    if (!state_) return info.Env().Undefined();
    state_->requireIdle("dispose a plan");
    arena_.reset();
    plan_.reset();
    for (Napi::ObjectReference& r : slotRefs_) r.Reset();
    slotRefs_.clear();
    slots_.clear();
    state_.reset();
    return info.Env().Undefined();
  });
}

}  // namespace vit::addon
