// Launcher of "adafactor" (native/cpu/adafactor.cc has the formula):
//   { rows, cols, factored, gradType, momentumType, param, grad, momentum, vr?, vc?, v?,
//     lr, lrMult, weightDecay, beta1, decay, eps, gradScale, clipThreshold }
// factored needs vr [rows] and vc [cols] (f32) and no v; unfactored needs v [rows, cols] (f32) and
// neither vr nor vc. Written buffers must all be distinct, and distinct from grad. In a plan, lr,
// decay, gradScale and weightDecay may be dynamic (plan-format.ts PlanScalar).
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

constexpr const char* kKernel = "adafactor";

void requireAbsent(const Napi::Object& spec, const char* name, const char* why) {
  if (!hasProp(spec, name)) return;
  throw Error(ErrorCode::InvalidArgument, std::string("adafactor ") + name + " must be absent " + why,
              "no " + std::string(name), "a " + std::string(name) + " buffer");
}

exec::KernelCall launchAdafactor(LaunchContext& ctx, const Napi::Object& spec) {
  AdafactorArgs a;
  a.rows = countProp(spec, "rows");
  a.cols = countProp(spec, "cols");
  a.factored = boolProp(spec, "factored");
  a.gradType = dtypeProp(spec, kKernel, "gradType");
  a.momentumType = dtypeProp(spec, kKernel, "momentumType");
  const int64_t n = elementCount(kKernel, {a.rows, a.cols});
  exec::DynamicScalar lr = dynamicScalarProp(ctx, spec, kKernel, "lr", {0, 1e30});
  a.lrMult = static_cast<float>(scalarProp(spec, kKernel, "lrMult", 0, 1e30));
  exec::DynamicScalar weightDecay = dynamicScalarProp(ctx, spec, kKernel, "weightDecay", {0, 1e30});
  a.beta1 = static_cast<float>(scalarProp(spec, kKernel, "beta1", 0, 1, true));
  exec::DynamicScalar decay = dynamicScalarProp(ctx, spec, kKernel, "decay", {0, 1, true});
  // eps > 0 keeps 1/sqrt(v) finite for all-zero gradient rows; below FLT_MIN it would flush.
  a.eps = static_cast<float>(scalarProp(spec, kKernel, "eps", 1.1754943508222875e-38, 1e30));
  exec::DynamicScalar gradScale = dynamicScalarProp(ctx, spec, kKernel, "gradScale", {0, 1e30});
  a.clipThreshold = static_cast<float>(scalarProp(spec, kKernel, "clipThreshold", 0, 1e30));

  int64_t f32Bytes = checkedBytes(kKernel, "param", n, 4);
  Operand param = bufferProp(ctx, spec, kKernel, "param", f32Bytes);
  Operand grad = bufferProp(ctx, spec, kKernel, "grad",
                            checkedBytes(kKernel, "grad", n, dtypeSize(a.gradType)));
  Operand momentum = bufferProp(ctx, spec, kKernel, "momentum",
                                checkedBytes(kKernel, "momentum", n, dtypeSize(a.momentumType)));
  std::vector<std::pair<const char*, Operand>> written = {{"param", param},
                                                                {"momentum", momentum}};
  if (a.factored) {
    requireAbsent(spec, "v", "when factored (the second moment is vr and vc)");
    Operand vr = bufferProp(ctx, spec, kKernel, "vr", checkedBytes(kKernel, "vr", a.rows, 4));
    Operand vc = bufferProp(ctx, spec, kKernel, "vc", checkedBytes(kKernel, "vc", a.cols, 4));
    written.push_back({"vr", vr});
    written.push_back({"vc", vc});
    a.vr = static_cast<float*>(vr.address);
    a.vc = static_cast<float*>(vc.address);
  } else {
    requireAbsent(spec, "vr", "when not factored (the second moment is v)");
    requireAbsent(spec, "vc", "when not factored (the second moment is v)");
    Operand v = bufferProp(ctx, spec, kKernel, "v", f32Bytes);
    written.push_back({"v", v});
    a.v = static_cast<float*>(v.address);
  }
  for (size_t i = 0; i < written.size(); ++i) {
    requireDistinct(kKernel, written[i].first, written[i].second, {grad});
    for (size_t j = i + 1; j < written.size(); ++j) {
      requireDistinct(kKernel, written[i].first, written[i].second, {written[j].second});
    }
  }
  a.param = static_cast<float*>(param.address);
  a.grad = grad.address;
  a.momentum = momentum.address;
  return [a, lr, weightDecay, decay, gradScale](exec::RunContext& run) mutable {
    a.lr = lr.resolveF32(run, a.lrPtr);
    a.weightDecay = weightDecay.resolveF32(run, a.weightDecayPtr);
    a.decay = decay.resolveF32(run, a.decayPtr);
    a.gradScale = gradScale.resolveF32(run, a.gradScalePtr);
    run.kernels().adafactor(run.stream(), a);
  };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("adafactor", launchAdafactor);

}  // namespace vit::addon
