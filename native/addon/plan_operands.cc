#include "addon/plan_operands.h"

#include <cmath>

#include "addon/args.h"
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

Operand PlanOperands::resolve(const Napi::Value& value, const std::string& kernel,
                              const std::string& name) {
  const std::string field = "spec." + name;
  exec::ResolvedView view = slots_.resolve(planViewValue(value, field), field);
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
