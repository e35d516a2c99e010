// What a mesh handle (native/addon/mesh_handle.*) drives: this process's devices of a data x model
// mesh, their DeviceComms, and runOnEveryRank. Two kinds: LocalMesh (every device of the mesh as a
// virtual device of this process, the `local` backend) and MpiMesh (one device per process, the
// `mpi` backend). "Local index" below counts this process's devices (0 .. size()-1); the mesh rank
// of one is comms(i)->place().rank.
#pragma once

#include <functional>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "comm/device_comms.h"
#include "core/status.h"

namespace vit::comm {

class MeshRunner {
 public:
  virtual ~MeshRunner() = default;
  // Devices of this process.
  virtual int size() const = 0;
  virtual const std::shared_ptr<DeviceComms>& comms(int local) const = 0;
  virtual void abort() = 0;
  virtual void reset() = 0;
  // Runs body(local) for every device of this process at once; the first failure is returned (its
  // message prefixed with the rank and coordinates), never thrown.
  virtual std::optional<Error> runOnEveryRank(const std::string& step,
                                              const std::function<void(int)>& body) = 0;
};

// What `step` threw, as an Error (std::bad_alloc as ERR_HOST_OOM, anything else as ERR_INTERNAL),
// or nothing: how each kind of mesh turns one device's body into runOnEveryRank's result.
inline std::optional<Error> errorOf(const std::function<void()>& step) {
  try {
    step();
  } catch (const Error& e) {
    return e;
  } catch (const std::bad_alloc&) {
    return Error(ErrorCode::HostOom, "native code ran out of host memory during a mesh step");
  } catch (const std::exception& e) {
    return Error(ErrorCode::Internal, std::string("internal error: ") + e.what());
  } catch (...) {
    return Error(ErrorCode::Internal, "internal error: unknown C++ exception in a mesh step");
  }
  return std::nullopt;
}

}  // namespace vit::comm
