// launch('global_norm', { buffers: [...], dtypes: [...], sizes: [...], out }): native/kernels.h
// GlobalNormArgs; three arrays of one length (buffer, its dtype name, its element count), out f32 [1].
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

Napi::Array arrayProp(const Napi::Object& spec, const char* name) {
  Napi::Value v = spec.Get(name);
  if (!v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, std::string("global_norm ") + name + " must be an array",
                "array", jsTypeName(v));
  }
  return v.As<Napi::Array>();
}

// The per-buffer arrays GlobalNormArgs points into, owned by the prepared call.
struct NormOperands {
  std::vector<DType> dtypes;
  std::vector<int64_t> sizes;
  std::vector<const void*> buffers;
  float* out = nullptr;
};

exec::KernelCall launchGlobalNorm(LaunchContext& ctx, const Napi::Object& spec) {
  const char* op = "global_norm";
  Napi::Array buffers = arrayProp(spec, "buffers");
  Napi::Array dtypes = arrayProp(spec, "dtypes");
  Napi::Array sizes = arrayProp(spec, "sizes");
  const uint32_t count = buffers.Length();
  if (dtypes.Length() != count || sizes.Length() != count) {
    throw Error(ErrorCode::InvalidArgument, "global_norm buffers, dtypes and sizes must have one length",
                std::to_string(count) + " entries each",
                std::to_string(dtypes.Length()) + " dtypes, " + std::to_string(sizes.Length()) + " sizes");
  }
  auto ops = std::make_shared<NormOperands>();
  ops->dtypes.resize(count);
  ops->sizes.resize(count);
  ops->buffers.resize(count);
  std::vector<Operand> inputs(count);
  for (uint32_t i = 0; i < count; ++i) {
    // One entry at a time through the property readers, named "dtypes[i]" / "sizes[i]".
    std::string index = "[" + std::to_string(i) + "]";
    Napi::Object entry = Napi::Object::New(ctx.env());
    entry.Set("dtype", dtypes.Get(i));
    entry.Set("size", sizes.Get(i));
    ops->dtypes[i] = dtypeProp(entry, op, "dtype", {DType::F32, DType::BF16});
    ops->sizes[i] = countProp(entry, "size");
    inputs[i] = bufferOperand(ctx, buffers.Get(i), op, "buffers" + index, {ops->sizes[i], ops->dtypes[i]});
  }
  Operand out = bufferProp(ctx, spec, op, "out", {1, DType::F32});
  for (uint32_t i = 0; i < count; ++i) {
    requireDistinct(op, "out", out, {inputs[i]});
    ops->buffers[i] = inputs[i].address;
  }
  ops->out = static_cast<float*>(out.address);
  // Shared, not copied: a plan's call may run thousands of times and is never copied after load.
  return [ops](exec::RunContext& run) {
    GlobalNormArgs a;
    a.count = static_cast<int64_t>(ops->buffers.size());
    a.dtypes = ops->dtypes.data();
    a.sizes = ops->sizes.data();
    a.buffers = ops->buffers.data();
    a.out = ops->out;
    run.kernels().globalNorm(run.stream(), a);
  };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("global_norm", launchGlobalNorm);

}  // namespace vit::addon
