#include "addon/args.h"

#include <cmath>

#include "core/status.h"

namespace vit::addon {

const char* jsTypeName(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

namespace {

Napi::Value argAt(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

}  // namespace

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = argAt(info, i);
  if (!v.IsString()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be a string",
                "string", jsTypeName(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = argAt(info, i);
  if (!v.IsNumber()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be a number",
                "number", jsTypeName(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

int64_t countArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double d = numberArg(info, i, name);
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) {
    throw Error(ErrorCode::InvalidArgument,
                std::string("argument '") + name + "' must be a non-negative integer",
                "integer in [0, 2^53]", std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

}  // namespace vit::addon
