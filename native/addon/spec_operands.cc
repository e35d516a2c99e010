#include "addon/spec_operands.h"

#include <cmath>
#include <cstdio>

#include "addon/args.h"
#include "core/status.h"

namespace vit::addon {

namespace {

std::string field(const char* kernel, const char* name) {
  return std::string(kernel) + " " + name;
}

std::string numberText(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

}  // namespace

int64_t checkedBytes(const char* kernel, const char* name, int64_t count, int64_t elementBytes) {
  int64_t bytes;
  if (count < 0 || __builtin_mul_overflow(count, elementBytes, &bytes)) {
    throw Error(ErrorCode::ShapeMismatch, field(kernel, name) + " spans more than 2^63 bytes",
                "at most 2^63 bytes",
                std::to_string(count) + " elements of " + std::to_string(elementBytes) + " bytes");
  }
  return bytes;
}

bool specHas(const Napi::Object& spec, const char* name) {
  Napi::Value v = spec.Get(name);
  return !v.IsUndefined() && !v.IsNull();
}

BufferHandle* specBuffer(Napi::Env env, const Napi::Object& spec, const char* kernel,
                         const char* name, const std::shared_ptr<DeviceState>& device,
                         int64_t needBytes) {
  BufferHandle* buf = BufferHandle::unwrapValue(env, spec.Get(name), name);
  buf->data("use");  // ERR_DISPOSED first
  buf->requireOn(device, field(kernel, name));
  if (static_cast<uint64_t>(needBytes) > buf->bytes()) {
    throw Error(ErrorCode::ShapeMismatch, field(kernel, name) + " is too small for the given shape",
                ">= " + std::to_string(needBytes) + " bytes",
                std::to_string(buf->bytes()) + " bytes");
  }
  return buf;
}

DType specStorageType(const Napi::Object& spec, const char* kernel, const char* name) {
  DType t = parseDType(stringProp(spec, name));
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, field(kernel, name) + " must be f32 or bf16",
                "f32 or bf16", dtypeName(t));
  }
  return t;
}

double specScalar(const Napi::Object& spec, const char* kernel, const char* name, double lo,
                  double hi, bool hiOpen) {
  double d = numberProp(spec, name);
  bool ok = std::isfinite(d) && d >= lo && (hiOpen ? d < hi : d <= hi);
  if (!ok) {
    throw Error(ErrorCode::InvalidArgument, field(kernel, name) + " is out of range",
                "a finite number in [" + numberText(lo) + ", " + numberText(hi) +
                    (hiOpen ? ")" : "]"),
                numberText(d));
  }
  return d;
}

uint64_t specU64(const Napi::Object& spec, const char* kernel, const char* name) {
  Napi::Value v = spec.Get(name);
  if (v.IsBigInt()) {
    int sign = 0;
    size_t words = 1;
    uint64_t word = 0;
    v.As<Napi::BigInt>().ToWords(&sign, &words, &word);
    // ToWords reports the words needed; more than one means the value does not fit in 64 bits.
    if (sign != 0 || words > 1) {
      throw Error(ErrorCode::InvalidArgument, field(kernel, name) + " must be in [0, 2^64)",
                  "an integer in [0, 2^64)", v.ToString().Utf8Value());
    }
    return words == 0 ? 0 : word;
  }
  return static_cast<uint64_t>(countProp(spec, name));
}

void requireDistinct(const char* kernel, const char* nameA, const BufferHandle* a,
                     const char* nameB, const BufferHandle* b) {
  if (a != b) return;
  throw Error(ErrorCode::InvalidArgument,
              std::string(kernel) + " " + nameA + " and " + nameB + " must be different buffers",
              "distinct buffers", "the same buffer");
}

}  // namespace vit::addon
