// launch('assert_finite', { x, n, what }): native/kernels.h AssertFiniteArgs. x holds n f32 values;
// `what` (a short name such as "loss") is quoted in the ERR_NON_FINITE message.
#include <memory>
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

exec::KernelCall launchAssertFinite(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "assert_finite";
  AssertFiniteArgs a;
  a.n = countProp(spec, "n");
  Operand x = bufferProp(ctx, spec, op, "x", {a.n, DType::F32});
  a.x = static_cast<const float*>(x.address);
  // The name must outlive the launch: the call owns a copy (plans run it many times).
  auto what = std::make_shared<std::string>(hasProp(spec, "what") ? stringProp(spec, "what") : "value");
  return [a, what](exec::RunContext& run) mutable {
    a.what = what->c_str();
    run.kernels().assertFinite(run.stream(), a);
  };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("assert_finite", launchAssertFinite);

}  // namespace vit::addon
