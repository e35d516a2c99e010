#include "addon/operand_checks.h"

#include <cmath>
#include <string>

#include "addon/args.h"
#include "core/status.h"

namespace vit::addon {

DType dtypeOf(const Napi::Object& spec, const char* op, const char* name,
              std::initializer_list<DType> allowed) {
  DType t = parseDType(stringProp(spec, name));
  std::string names;
  for (DType a : allowed) {
    if (a == t) return t;
    names += (names.empty() ? "" : " or ") + std::string(dtypeName(a));
  }
  throw Error(ErrorCode::DtypeMismatch, std::string(op) + " " + name + " must be " + names, names,
              dtypeName(t));
}

int64_t elementsOf(const char* op, std::initializer_list<int64_t> dims) {
  // Counts come from countProp (each <= 2^53); the product must also leave room for byte sizes.
  constexpr int64_t kLimit = int64_t{1} << 62;
  int64_t total = 1;
  bool overflow = false;
  for (int64_t d : dims) {
    if (d == 0) return 0;
    if (__builtin_mul_overflow(total, d, &total) || total > kLimit) overflow = true;
  }
  if (overflow) {
    std::string shape;
    for (int64_t d : dims) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw Error(ErrorCode::ShapeMismatch, std::string(op) + " shape has too many elements",
                "at most 2^62 elements", "[" + shape + "]");
  }
  return total;
}

BufferHandle* operandValue(Napi::Env env, const Napi::Value& value, const char* op,
                           const std::string& name, const std::shared_ptr<DeviceState>& device,
                           int64_t elements, DType dtype) {
  BufferHandle* buf = BufferHandle::unwrapValue(env, value, name.c_str());
  buf->data("use");  // ERR_DISPOSED before anything else is said about it
  buf->requireOn(device, std::string(op) + " operand " + name);
  // elements <= 2^62 and sizes <= 4 bytes: no overflow.
  uint64_t need = static_cast<uint64_t>(elements) * dtypeSize(dtype);
  if (need > buf->bytes()) {
    throw Error(ErrorCode::ShapeMismatch,
                std::string(op) + " operand " + name + " is too small for the given shape",
                ">= " + std::to_string(need) + " bytes (" + std::to_string(elements) + " " +
                    dtypeName(dtype) + ")",
                std::to_string(buf->bytes()) + " bytes");
  }
  return buf;
}

BufferHandle* operandOf(Napi::Env env, const Napi::Object& spec, const char* op, const char* name,
                        const std::shared_ptr<DeviceState>& device, int64_t elements, DType dtype) {
  return operandValue(env, spec.Get(name), op, name, device, elements, dtype);
}

bool absent(const Napi::Object& spec, const char* name) {
  Napi::Value v = spec.Get(name);
  return v.IsUndefined() || v.IsNull();
}

void requireDistinct(const char* op, BufferHandle* output, std::initializer_list<BufferHandle*> inputs) {
  for (BufferHandle* in : inputs) {
    if (in && in == output) {
      throw Error(ErrorCode::InvalidArgument, std::string(op) + " output must not be one of its inputs",
                  "distinct buffers", "the same buffer");
    }
  }
}

float finiteProp(const Napi::Object& spec, const char* op, const char* name) {
  double v = numberProp(spec, name);
  if (!std::isfinite(v) || std::fabs(v) > 3.4028234663852886e38) {
    throw Error(ErrorCode::InvalidArgument, std::string(op) + " " + name + " must be a finite f32",
                "finite number", std::to_string(v));
  }
  return static_cast<float>(v);
}

float rangedProp(const Napi::Object& spec, const char* op, const char* name, double lo, double hi) {
  double v = numberProp(spec, name);
  if (!(v >= lo && v <= hi)) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(op) + " " + name + " is out of range",
                "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]", std::to_string(v));
  }
  return static_cast<float>(v);
}

}  // namespace vit::addon
