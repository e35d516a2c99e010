#include "addon/plan_loader.h"

#include <cmath>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/buffer_handle.h"
#include "addon/kernel_launchers.h"
#include "addon/plan_arena.h"
#include "addon/plan_handle.h"
#include "addon/plan_operands.h"
#include "core/plan_runtime.h"
#include "exec/dynamic_scalar.h"
#include "exec/plan_error.h"
#include "exec/schedule.h"
#include "exec/slot_table.h"

namespace vit::addon {

namespace {

using exec::throwPlanError;

// ---- reading fields (each failure is ERR_INVALID_PLAN naming the field) ----

Napi::Object planObject(const Napi::Value& v, const std::string& field, const char* shape) {
  if (!v.IsObject() || v.IsArray()) throwPlanError(field, "must be an object", shape, jsTypeName(v));
  return v.As<Napi::Object>();
}

Napi::Array planArray(const Napi::Value& v, const std::string& field) {
  if (!v.IsArray()) throwPlanError(field, "must be an array", "array", jsTypeName(v));
  return v.As<Napi::Array>();
}

// A count or a size: an integer in [0, 2^53] (exact in JavaScript).
uint64_t planCount(const Napi::Value& v, const std::string& field) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d)) {
    throwPlanError(field, "must be a non-negative integer", "an integer in [0, 2^53]",
                   v.IsNumber() ? exec::numberText(d) : jsTypeName(v));
  }
  return static_cast<uint64_t>(d);
}

std::vector<exec::ViewRef> planViews(const Napi::Value& v, const std::string& field) {
  Napi::Array arr = planArray(v, field);
  std::vector<exec::ViewRef> views;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    views.push_back(planViewValue(arr.Get(i), field + "[" + std::to_string(i) + "]"));
  }
  return views;
}

// One instruction's header (everything but the spec, which its launcher reads).
exec::InstructionInfo readInstruction(const Napi::Value& v, size_t s, size_t i,
                                      Napi::Object* spec) {
  exec::InstructionInfo ins;
  ins.where.stream = s;
  ins.where.index = i;
  const std::string field = "streams[" + std::to_string(s) + "][" + std::to_string(i) + "]";
  Napi::Object o = planObject(v, field, "{ kernel, spec, wait?, record?, note? }");
  Napi::Value note = o.Get("note");
  if (!note.IsUndefined()) {
    if (!note.IsString()) throwPlanError(field + ".note", "must be a string", "string", jsTypeName(note));
    ins.where.note = note.As<Napi::String>().Utf8Value();
  }
  Napi::Value kernel = o.Get("kernel");
  if (!kernel.IsString()) {
    throwPlanError(ins.where, "kernel", "must be a kernel name", "string", jsTypeName(kernel));
  }
  ins.kernel = kernel.As<Napi::String>().Utf8Value();
  *spec = planObject(o.Get("spec"), field + ".spec", "the kernel's launch() spec");
  Napi::Value wait = o.Get("wait");
  if (!wait.IsUndefined()) {
    Napi::Array waits = planArray(wait, field + ".wait");
    for (uint32_t w = 0; w < waits.Length(); ++w) {
      ins.waits.push_back(planCount(waits.Get(w), field + ".wait[" + std::to_string(w) + "]"));
    }
  }
  Napi::Value record = o.Get("record");
  if (!record.IsUndefined()) {
    ins.records = true;
    ins.record = planCount(record, field + ".record");
  }
  return ins;
}

// The slot buffers: live BufferHandles of this device, one per slotBytes entry after the arena,
// each exactly the size the plan was compiled for.
void readSlots(const Napi::Value& v, const std::vector<uint64_t>& slotBytes,
               const std::shared_ptr<DeviceState>& device, PlanParts* parts) {
  if (!v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, "plan slots must be an array of buffers",
                "BufferHandle[]", jsTypeName(v));
  }
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() + 1 != slotBytes.size()) {
    throwPlanError("slotBytes",
                   "the plan has " + std::to_string(slotBytes.size() - 1) +
                       " persistent slots but " + std::to_string(arr.Length()) +
                       " buffers were given",
                   std::to_string(slotBytes.size() - 1) + " buffers (slots 1.." +
                       std::to_string(slotBytes.size() - 1) + ")",
                   std::to_string(arr.Length()) + " buffers");
  }
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string name = "slots[" + std::to_string(i) + "]";
    Napi::Value item = arr.Get(i);
    BufferHandle* buf = BufferHandle::unwrapValue(item.Env(), item, name.c_str());
    buf->data("load a plan with");
    buf->requireOn(device, "plan slot " + std::to_string(i + 1));
    if (buf->bytes() != slotBytes[i + 1]) {
      throwPlanError("slotBytes[" + std::to_string(i + 1) + "]",
                     "does not match the buffer given for slot " + std::to_string(i + 1),
                     std::to_string(slotBytes[i + 1]) + " bytes",
                     "a buffer of " + std::to_string(buf->bytes()) + " bytes");
    }
    parts->slotObjects.push_back(item.As<Napi::Object>());
    parts->slots.push_back(buf);
  }
}

}  // namespace

Napi::Object loadPlan(Napi::Env env, const std::shared_ptr<DeviceState>& device,
                      const Napi::Value& planValue, const Napi::Value& slotsValue) {
  Napi::Object p = planObject(planValue, "plan", "a NativePlan");
  exec::PlanLayout layout;
  layout.version = planCount(p.Get("version"), "version");
  if (layout.version != exec::kPlanVersion) {
    throwPlanError("version", "unsupported plan version", std::to_string(exec::kPlanVersion),
                   std::to_string(layout.version));
  }
  layout.arenaBytes = planCount(p.Get("arenaBytes"), "arenaBytes");
  Napi::Array slotBytes = planArray(p.Get("slotBytes"), "slotBytes");
  for (uint32_t i = 0; i < slotBytes.Length(); ++i) {
    layout.slotBytes.push_back(planCount(slotBytes.Get(i), "slotBytes[" + std::to_string(i) + "]"));
  }
  if (layout.slotBytes.empty() || layout.slotBytes[0] != layout.arenaBytes) {
    throwPlanError("slotBytes[0]", "must be the arena's size",
                   "arenaBytes (" + std::to_string(layout.arenaBytes) + ")",
                   layout.slotBytes.empty() ? "no slots" : std::to_string(layout.slotBytes[0]));
  }
  layout.events = planCount(p.Get("events"), "events");
  layout.scalars = planCount(p.Get("scalars"), "scalars");

  Napi::Array streams = planArray(p.Get("streams"), "streams");
  if (streams.Length() == 0) throwPlanError("streams", "must hold at least one stream", ">= 1 stream", "0");
  std::vector<std::vector<Napi::Object>> specs(streams.Length());
  layout.streams.resize(streams.Length());
  for (uint32_t s = 0; s < streams.Length(); ++s) {
    Napi::Array list = planArray(streams.Get(s), "streams[" + std::to_string(s) + "]");
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object spec;
      layout.streams[s].push_back(readInstruction(list.Get(i), s, i, &spec));
      specs[s].push_back(spec);
    }
  }
  layout.inputs = planViews(p.Get("inputs"), "inputs");
  layout.outputs = planViews(p.Get("outputs"), "outputs");

  PlanParts parts;
  parts.state = device;
  readSlots(slotsValue, layout.slotBytes, device, &parts);

  exec::SlotTable slots(layout.slotBytes);
  for (size_t i = 0; i < layout.inputs.size(); ++i) slots.check(layout.inputs[i], "inputs[" + std::to_string(i) + "]");
  for (size_t i = 0; i < layout.outputs.size(); ++i) slots.check(layout.outputs[i], "outputs[" + std::to_string(i) + "]");
  std::vector<exec::StepRef> order = exec::scheduleStreams(layout);
  std::vector<std::vector<KernelLauncher>> launchers(layout.streams.size());
  for (size_t s = 0; s < layout.streams.size(); ++s) {
    for (const exec::InstructionInfo& ins : layout.streams[s]) {
      KernelLauncher launcher = findKernelLauncher(ins.kernel);
      if (!launcher) {
        std::string known;
        for (const std::string& n : kernelLauncherNames()) known += (known.empty() ? "" : ", ") + n;
        throwPlanError(ins.where, "kernel", "unknown kernel '" + ins.kernel + "'", "one of " + known,
                       ins.kernel);
      }
      launchers[s].push_back(launcher);
    }
  }

  // Everything checkable without memory has passed: allocate the arena, then prepare the calls.
  parts.arena = std::make_unique<PlanArena>(device, layout.arenaBytes);
  slots.setBase(0, parts.arena->data());
  for (size_t i = 0; i < parts.slots.size(); ++i) slots.setBase(i + 1, parts.slots[i]->data("use"));

  // CUDA: the plan's streams, events and run-scalar block (null on the CPU, which runs serially).
  std::unique_ptr<PlanRuntime> runtime = device->backend->createPlanRuntime(
      layout.streams.size(), static_cast<size_t>(layout.events), static_cast<size_t>(layout.scalars));
  const bool deviceScalars = runtime != nullptr;

  PlanOperands operands(env, device, slots, layout.scalars);
  std::vector<std::vector<exec::PreparedInstruction>> prepared(layout.streams.size());
  std::vector<exec::RunScalarUse> runScalarUses;
  for (size_t s = 0; s < layout.streams.size(); ++s) {
    for (size_t i = 0; i < layout.streams[s].size(); ++i) {
      const exec::InstructionInfo& ins = layout.streams[s][i];
      exec::PreparedInstruction p;
      try {
        p.call = launchers[s][i](operands, specs[s][i]);
      } catch (const Error& e) {
        throw exec::locatedError(ins.where, e);
      }
      p.where = ins.where;
      p.waits = ins.waits;
      p.records = ins.records;
      p.record = ins.record;
      // Instructions that need the host to see device memory run outside CUDA graphs: the finite
      // check (it throws ERR_NON_FINITE from the host) and integer fields given as { read }.
      p.hostSync = ins.kernel == "assert_finite";
      for (const exec::DynamicScalar& d : operands.takeNoted()) {
        if (d.isRunScalar()) runScalarUses.push_back({d, ins.where});
        if (deviceScalars && d.needsHostRead()) p.hostSync = true;
      }
      prepared[s].push_back(std::move(p));
    }
  }
  std::vector<exec::ResolvedView> inputs, outputs;
  for (size_t i = 0; i < layout.inputs.size(); ++i) inputs.push_back(slots.resolve(layout.inputs[i], "inputs[" + std::to_string(i) + "]"));
  for (size_t i = 0; i < layout.outputs.size(); ++i) outputs.push_back(slots.resolve(layout.outputs[i], "outputs[" + std::to_string(i) + "]"));
  parts.plan = std::make_shared<exec::LoadedPlan>(std::move(prepared), std::move(order), std::move(inputs),
                                                  std::move(outputs), static_cast<size_t>(layout.scalars),
                                                  std::move(runtime), std::move(runScalarUses));
  return PlanHandle::create(env, std::move(parts));
}

}  // namespace vit::addon
