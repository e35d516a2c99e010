#include "addon/mpi_bindings.h"

#include "addon/errors.h"
#include "comm/mpi_library.h"

namespace vit::addon {

namespace {

Napi::Value mpiStatus(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    const bool opened = comm::mpi::opened();
    o.Set("opened", opened);
    o.Set("version", comm::mpi::libraryVersion());
    o.Set("path", opened ? comm::mpi::api().path : std::string());
    o.Set("broken", comm::mpi::broken());
    return o;
  });
}

Napi::Value mpiOpen(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const comm::mpi::Api& a = comm::mpi::api();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("rank", comm::mpi::worldRank());
    o.Set("size", comm::mpi::worldSize());
    o.Set("version", comm::mpi::libraryVersion());
    o.Set("path", a.path);
    return o;
  });
}

Napi::Value mpiFinalize(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    comm::mpi::finalize();
    return info.Env().Undefined();
  });
}

}  // namespace

void defineMpiBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("mpiStatus", Napi::Function::New(env, mpiStatus, "mpiStatus"));
  exports.Set("mpiOpen", Napi::Function::New(env, mpiOpen, "mpiOpen"));
  exports.Set("mpiFinalize", Napi::Function::New(env, mpiFinalize, "mpiFinalize"));
}

}  // namespace vit::addon
