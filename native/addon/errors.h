// The one place where C++ failures become JavaScript errors. Every N-API entry point runs its body
// through `guard`, so no C++ exception (ours, std::bad_alloc, anything) escapes into N-API, where it
// would terminate the process. guard also counts the entry (addon_data.h countEntry), so it must
// wrap whole entry points only, never be nested.
#pragma once

#include <napi.h>

#include <exception>
#include <new>

#include "addon/addon_data.h"
#include "core/status.h"

namespace vit::addon {

// Builds an instance of the Vit22bError class registered by lib/runtime (setErrorClass), or a plain
// Error with `code`, `expected` and `received` properties before one is registered.
Napi::Error toJsError(Napi::Env env, const vit::Error& error);

// Registers the JavaScript error class: new Class(code, message, { expected, received }).
void setErrorClass(const Napi::CallbackInfo& info);

// The JavaScript error for any C++ exception, for code that reports errors as values (a rejected
// promise) rather than by throwing. Call inside a catch block.
Napi::Error currentExceptionToJs(Napi::Env env);

template <typename Fn>
auto guard(Napi::Env env, Fn&& body) -> decltype(body()) {
  countEntry(env);
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // already a JavaScript error
  } catch (const vit::Error& e) {
    throw toJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw toJsError(env, vit::Error(ErrorCode::HostOom, "native code ran out of host memory"));
  } catch (const std::exception& e) {
    throw toJsError(env, vit::Error(ErrorCode::Internal, std::string("internal error: ") + e.what()));
  } catch (...) {
    throw toJsError(env, vit::Error(ErrorCode::Internal, "internal error: unknown C++ exception"));
  }
}

}  // namespace vit::addon
