// launch('global_norm', { buffers: [...], dtypes: [...], sizes: [...], out }): native/kernels.h
// GlobalNormArgs; three arrays of one length (buffer, its dtype name, its element count), out f32 [1].
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

void launchGlobalNorm(Napi::Env env, const Napi::Object& spec, const std::shared_ptr<DeviceState>& device) {
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
  std::vector<DType> types(count);
  std::vector<int64_t> counts(count);
  std::vector<BufferHandle*> handles(count);
  std::vector<const void*> data(count);
  for (uint32_t i = 0; i < count; ++i) {
    // One entry at a time through the property readers, named "dtypes[i]" / "sizes[i]".
    std::string index = "[" + std::to_string(i) + "]";
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("dtype", dtypes.Get(i));
    entry.Set("size", sizes.Get(i));
    types[i] = dtypeProp(entry, op, "dtype", {DType::F32, DType::BF16});
    counts[i] = countProp(entry, "size");
    handles[i] = bufferOperand(env, buffers.Get(i), op, "buffers" + index, device, {counts[i], types[i]});
  }
  BufferHandle* out = bufferProp(env, spec, op, "out", device, {1, DType::F32});
  for (uint32_t i = 0; i < count; ++i) {
    requireDistinct(op, "out", out, {handles[i]});
    data[i] = handles[i]->data("read");
  }
  GlobalNormArgs a;
  a.count = count;
  a.dtypes = types.data();
  a.sizes = counts.data();
  a.buffers = data.data();
  a.out = static_cast<float*>(out->data("write"));
  device->backend->kernels().globalNorm(device->backend->stream(), a);
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("global_norm", launchGlobalNorm);

}  // namespace vit::addon
