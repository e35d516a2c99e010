#include "addon/errors.h"

#include "addon/addon_data.h"

namespace vit::addon {

Napi::Error toJsError(Napi::Env env, const vit::Error& error) {
  const char* code = errorCodeString(error.code());
  AddonData& data = addonData(env);
  Napi::Object details = Napi::Object::New(env);
  if (!error.expected().empty()) details.Set("expected", error.expected());
  if (!error.received().empty()) details.Set("received", error.received());
  if (!data.errorClass.IsEmpty()) {
    Napi::Object obj = data.errorClass.New(
        {Napi::String::New(env, code), Napi::String::New(env, error.message()), details});
    return Napi::Error(env, obj);
  }
  Napi::Error plain = Napi::Error::New(env, error.message());
  plain.Set("code", code);
  if (!error.expected().empty()) plain.Set("expected", error.expected());
  if (!error.received().empty()) plain.Set("received", error.received());
  return plain;
}

Napi::Error currentExceptionToJs(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error& e) {
    return e;
  } catch (const vit::Error& e) {
    return toJsError(env, e);
  } catch (const std::bad_alloc&) {
    return toJsError(env, vit::Error(ErrorCode::HostOom, "native code ran out of host memory"));
  } catch (const std::exception& e) {
    return toJsError(env, vit::Error(ErrorCode::Internal, std::string("internal error: ") + e.what()));
  } catch (...) {
    return toJsError(env, vit::Error(ErrorCode::Internal, "internal error: unknown C++ exception"));
  }
}

void setErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  countEntry(env);
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw toJsError(env, vit::Error(ErrorCode::InvalidArgument,
                                    "setErrorClass expects a constructor", "function",
                                    info.Length() ? "another type" : "nothing"));
  }
  addonData(env).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
}

}  // namespace vit::addon
