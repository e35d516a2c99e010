#include "addon/plan_operands.h"

#include <cmath>

#include "addon/args.h"
#include "comm/device_comms.h"
#include "exec/dynamic_scalar.h"
#include "exec/plan_error.h"

namespace vit::addon {

namespace {

// Offsets past 2^53 are not exact in JavaScript, but they are integers and must be rejected as
// outside their slot rather than wrapped; anything from 2^64 on cannot even be stored.
uint64_t viewField(const Napi::Object& o, const char* key, const std::string& field) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d < 18446744073709551616.0 && std::floor(d) == d)) {
    exec::throwPlanError(field + "." + key, "must be a non-negative integer",
                         "an integer in [0, 2^64)",
                         v.IsNumber() ? exec::numberText(d) : jsTypeName(v));
  }
  return static_cast<uint64_t>(d);
}

}  // namespace

exec::ViewRef planViewValue(const Napi::Value& v, const std::string& field) {
  if (!v.IsObject() || v.IsArray()) {
    exec::throwPlanError(field, "must be a PlanView", "{ slot, offset, bytes }", jsTypeName(v));
  }
  Napi::Object o = v.As<Napi::Object>();
  exec::ViewRef view;
  view.slot = viewField(o, "slot", field);
  view.offset = viewField(o, "offset", field);
  view.bytes = viewField(o, "bytes", field);
  return view;
}

// A rank-relative view (PlanView.rank, lib/runtime/plan-format.ts): the same SPMD plan addresses a
// different block on each device, ((axis coordinate + shift) mod ranks) * step bytes further on. The
// coordinate is known here, when this device loads the plan, so kernels see plain addresses (the
// collective matmul's ring picks the weight rows of the chunk at hand this way, passes/ring.ts).
uint64_t PlanOperands::rankOffset(const Napi::Value& value, const std::string& field) const {
  if (!value.IsObject() || value.IsArray()) return 0;
  Napi::Value r = value.As<Napi::Object>().Get("rank");
  if (r.IsUndefined()) return 0;
  if (!r.IsObject() || r.IsArray()) {
    exec::throwPlanError(field + ".rank", "must be an object", "{ axis, ranks, shift, step }", jsTypeName(r));
  }
  Napi::Object o = r.As<Napi::Object>();
  const std::string axis = o.Get("axis").IsString() ? o.Get("axis").As<Napi::String>().Utf8Value() : "";
  if (axis != "data" && axis != "model") {
    exec::throwPlanError(field + ".rank.axis", "must be a mesh axis", "data | model", axis.empty() ? jsTypeName(o.Get("axis")) : axis);
  }
  const uint64_t ranks = viewField(o, "ranks", field + ".rank");
  const uint64_t shift = viewField(o, "shift", field + ".rank");
  const uint64_t step = viewField(o, "step", field + ".rank");
  const comm::DeviceComms* comms = device()->backend->comms();
  const int size = !comms ? 1 : axis == "data" ? comms->place().dataSize : comms->place().modelSize;
  const int coord = !comms ? 0 : axis == "data" ? comms->place().data : comms->place().model;
  if (ranks != static_cast<uint64_t>(size)) {
    exec::throwPlanError(field + ".rank.ranks", "must be the size of the device's mesh axis '" + axis + "'",
                         std::to_string(size), std::to_string(ranks));
  }
  const uint64_t block = (static_cast<uint64_t>(coord) + shift) % ranks;
  if (step != 0 && block > UINT64_MAX / step) {
    exec::throwPlanError(field + ".rank.step", "overflows", "a step whose blocks fit 64 bits", std::to_string(step));
  }
  return block * step;
}

Operand PlanOperands::resolve(const Napi::Value& value, const std::string& kernel,
                              const std::string& name) {
  const std::string field = "spec." + name;
  exec::ViewRef ref = planViewValue(value, field);
  const uint64_t extra = rankOffset(value, field);
  if (ref.offset > UINT64_MAX - extra) {
    exec::throwPlanError(field + ".offset", "overflows with its rank offset", "an offset below 2^64", std::to_string(extra));
  }
  ref.offset += extra;
  exec::ResolvedView view = slots_.resolve(ref, field);
  Operand o;
  o.present = true;
  o.address = view.address;
  o.bytes = view.bytes;
  o.base = view.base;
  o.offset = view.offset;
  o.slot = static_cast<int64_t>(view.slot);
  return o;
}

}  // namespace vit::addon
