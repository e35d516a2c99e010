// Launchers of "philox" and "random_init".
//   philox:      { key: [k0, k1], counter: [c0, c1, c2, c3] (u32 numbers), blocks, out }
//                out holds >= 16 * blocks bytes (u32 words; an i32 tensor on the TypeScript side).
//   random_init: { dtype, dist: 'constant' | 'uniform' | 'normal' | 'truncated_normal',
//                  seed, offset, start (numbers or BigInts below 2^64), n, a, b, out }
#include <cmath>
#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

void readWords(const Napi::Object& spec, const char* name, uint32_t* out, uint32_t count) {
  Napi::Value v = spec.Get(name);
  std::string expected = "an array of " + std::to_string(count) + " integers in [0, 2^32)";
  if (!v.IsArray() || v.As<Napi::Array>().Length() != count) {
    throw Error(ErrorCode::InvalidArgument, std::string("philox ") + name + " must be " + expected,
                expected, v.IsArray() ? "an array of length " + std::to_string(v.As<Napi::Array>().Length())
                                      : jsTypeName(v));
  }
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value w = arr.Get(i);
    double d = w.IsNumber() ? w.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && std::floor(d) == d)) {
      throw Error(ErrorCode::InvalidArgument,
                  std::string("philox ") + name + "[" + std::to_string(i) + "] must be a u32",
                  "an integer in [0, 2^32)", w.IsNumber() ? std::to_string(d) : jsTypeName(w));
    }
    out[i] = static_cast<uint32_t>(d);
  }
}

exec::KernelCall launchPhilox(LaunchContext& ctx, const Napi::Object& spec) {
  PhiloxArgs a;
  readWords(spec, "key", a.key, 2);
  readWords(spec, "counter", a.counter, 4);
  a.blocks = countProp(spec, "blocks");
  Operand out = bufferProp(ctx, spec, "philox", "out", checkedBytes("philox", "out", a.blocks, 16));
  a.out = static_cast<uint32_t*>(out.address);
  return [a](exec::RunContext& run) { run.kernels().philox(run.stream(), a); };
}

InitDistribution distributionOf(const std::string& name) {
  if (name == "constant") return InitDistribution::Constant;
  if (name == "uniform") return InitDistribution::Uniform;
  if (name == "normal") return InitDistribution::Normal;
  if (name == "truncated_normal") return InitDistribution::TruncatedNormal;
  throw Error(ErrorCode::InvalidArgument, "random_init dist '" + name + "' is unknown",
              "constant | uniform | normal | truncated_normal", name);
}

exec::KernelCall launchRandomInit(LaunchContext& ctx, const Napi::Object& spec) {
  const char* kernel = "random_init";
  RandomInitArgs a;
  a.dtype = dtypeProp(spec, kernel, "dtype");
  a.dist = distributionOf(stringProp(spec, "dist"));
  a.seed = u64Prop(spec, kernel, "seed");
  a.offset = u64Prop(spec, kernel, "offset");
  a.start = u64Prop(spec, kernel, "start");
  a.n = countProp(spec, "n");
  if (a.start + static_cast<uint64_t>(a.n) < a.start) {  // the element index would wrap
    throw Error(ErrorCode::InvalidArgument, "random_init start + n must not exceed 2^64",
                "start + n <= 2^64", std::to_string(a.start) + " + " + std::to_string(a.n));
  }
  a.a = static_cast<float>(scalarProp(spec, kernel, "a", -kF32Max, kF32Max));
  if (a.dist == InitDistribution::Uniform) {
    a.b = static_cast<float>(scalarProp(spec, kernel, "b", -kF32Max, kF32Max));
    if (!(a.a < a.b)) {
      throw Error(ErrorCode::InvalidArgument, "random_init uniform needs a < b",
                  "b > " + std::to_string(a.a), std::to_string(a.b));
    }
  } else if (a.dist != InitDistribution::Constant) {
    a.b = static_cast<float>(scalarProp(spec, kernel, "b", 0, kF32Max));  // the std
  }
  Operand out = bufferProp(ctx, spec, kernel, "out", checkedBytes(kernel, "out", a.n, dtypeSize(a.dtype)));
  a.out = out.address;
  return [a](exec::RunContext& run) { run.kernels().randomInit(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("philox", launchPhilox);
VIT_REGISTER_KERNEL_LAUNCHER("random_init", launchRandomInit);

}  // namespace vit::addon
