#include "addon/row_op_args.h"

#include <string>

#include "addon/args.h"
#include "core/status.h"

namespace vit::addon {

DType storageTypeProp(const Napi::Object& spec, const char* name, const char* kernel) {
  DType t = parseDType(stringProp(spec, name));
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, std::string(kernel) + " " + name + " must be f32 or bf16",
                "f32 or bf16", dtypeName(t));
  }
  return t;
}

int64_t checkedElements(int64_t a, int64_t b, int64_t elemBytes, const char* kernel) {
  int64_t n, bytes;
  if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, elemBytes, &bytes)) {
    throw Error(ErrorCode::ShapeMismatch,
                std::string(kernel) + " shape spans more than 2^63 bytes",
                "a footprint below 2^63 bytes",
                "[" + std::to_string(a) + ", " + std::to_string(b) + "]");
  }
  return n;
}

BufferHandle* bufferProp(Napi::Env env, const Napi::Object& spec, const char* name,
                         const std::shared_ptr<DeviceState>& device, int64_t needBytes,
                         const char* kernel) {
  BufferHandle* buf = BufferHandle::unwrapValue(env, spec.Get(name), name);
  buf->data("use");  // ERR_DISPOSED before anything else is said about it
  buf->requireOn(device, std::string(kernel) + " operand " + name);
  if (static_cast<uint64_t>(needBytes) > buf->bytes()) {
    throw Error(ErrorCode::ShapeMismatch,
                std::string(kernel) + " operand " + name + " is too small for the given shape",
                ">= " + std::to_string(needBytes) + " bytes", std::to_string(buf->bytes()) + " bytes");
  }
  return buf;
}

BufferHandle* optionalBufferProp(Napi::Env env, const Napi::Object& spec, const char* name,
                                 const std::shared_ptr<DeviceState>& device, int64_t needBytes,
                                 const char* kernel) {
  Napi::Value v = spec.Get(name);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return bufferProp(env, spec, name, device, needBytes, kernel);
}

void requireDistinct(const BufferHandle* output, const char* outputName,
                     std::initializer_list<const BufferHandle*> others, const char* kernel) {
  if (!output) return;
  for (const BufferHandle* other : others) {
    if (other == output) {
      throw Error(ErrorCode::InvalidArgument,
                  std::string(kernel) + " output " + outputName + " must not alias another operand",
                  std::string(outputName) + " distinct from the other operands", "the same buffer");
    }
  }
}

}  // namespace vit::addon
