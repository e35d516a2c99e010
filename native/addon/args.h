// Argument checks for N-API entry points: each throws ERR_INVALID_ARGUMENT naming the argument,
// the expected type and what was received. The TypeScript layer validates first; these keep a
// direct caller of the raw addon from crashing the process.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace vit::addon {

const char* jsTypeName(const Napi::Value& v);
std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* name);
double numberArg(const Napi::CallbackInfo& info, size_t i, const char* name);
// A non-negative integer no larger than 2^53 (exact in a double).
int64_t countArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// The same checks for the properties of an options object (a missing property is `undefined`).
std::string stringProp(const Napi::Object& o, const char* name);
double numberProp(const Napi::Object& o, const char* name);
int64_t countProp(const Napi::Object& o, const char* name);
bool boolProp(const Napi::Object& o, const char* name);
Napi::Object objectArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// The bytes of a TypedArray, DataView or ArrayBuffer (ERR_INVALID_ARGUMENT naming `name` otherwise).
// Valid while the JavaScript value is alive and not detached: copy before leaving the JS thread.
struct HostView {
  uint8_t* data = nullptr;
  size_t bytes = 0;
};
HostView hostViewValue(const Napi::Value& v, const std::string& name);

}  // namespace vit::addon
