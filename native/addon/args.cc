#include "addon/args.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

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

std::string stringValue(const Napi::Value& v, const char* name) {
  if (!v.IsString()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be a string",
                "string", jsTypeName(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

double numberValue(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be a number",
                "number", jsTypeName(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

// The shortest text that reads back as the same double ("1.5", "-1", "nan"), for `received`.
std::string formatNumber(double d) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d || std::isnan(d)) break;
  }
  return buf;
}

int64_t countValue(const Napi::Value& v, const char* name) {
  double d = numberValue(v, name);
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) {
    throw Error(ErrorCode::InvalidArgument,
                std::string("argument '") + name + "' must be a non-negative integer",
                "integer in [0, 2^53]", formatNumber(d));
  }
  return static_cast<int64_t>(d);
}

}  // namespace

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return stringValue(argAt(info, i), name);
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return numberValue(argAt(info, i), name);
}

int64_t countArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return countValue(argAt(info, i), name);
}

std::string stringProp(const Napi::Object& o, const char* name) { return stringValue(o.Get(name), name); }

double numberProp(const Napi::Object& o, const char* name) { return numberValue(o.Get(name), name); }

int64_t countProp(const Napi::Object& o, const char* name) { return countValue(o.Get(name), name); }

bool boolProp(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsBoolean()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be a boolean",
                "boolean", jsTypeName(v));
  }
  return v.As<Napi::Boolean>().Value();
}

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = argAt(info, i);
  if (!v.IsObject()) {
    throw Error(ErrorCode::InvalidArgument, std::string("argument '") + name + "' must be an object",
                "object", jsTypeName(v));
  }
  return v.As<Napi::Object>();
}

HostView hostViewValue(const Napi::Value& v, const std::string& name) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    auto* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data());
    return {base + ta.ByteOffset(), ta.ByteLength()};
  }
  if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(dv.Data()), dv.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
  }
  throw Error(ErrorCode::InvalidArgument,
              "argument '" + name + "' must be a TypedArray, DataView or ArrayBuffer",
              "TypedArray | DataView | ArrayBuffer", jsTypeName(v));
}

}  // namespace vit::addon
