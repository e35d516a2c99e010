// Errors crossing the native boundary. Every failure inside native code is a vit::Error with a
// stable code; native/addon turns it into a JavaScript Vit22bError with the same `code` string.
// The strings are a public contract (lib/runtime/errors.ts lists the same set): never rename one.
#pragma once

#include <exception>
#include <string>

namespace vit {

#define VIT_ERROR_CODES(X)                           \
  X(InvalidArgument, "ERR_INVALID_ARGUMENT")         \
  X(ShapeMismatch, "ERR_SHAPE_MISMATCH")             \
  X(DtypeMismatch, "ERR_DTYPE_MISMATCH")             \
  X(Disposed, "ERR_DISPOSED")                        \
  X(DeviceMismatch, "ERR_DEVICE_MISMATCH")           \
  X(HostOom, "ERR_HOST_OOM")                         \
  X(DeviceOom, "ERR_DEVICE_OOM")                     \
  X(DeviceLost, "ERR_DEVICE_LOST")                   \
  X(CudaUnavailable, "ERR_CUDA_UNAVAILABLE")         \
  X(CudaError, "ERR_CUDA")                           \
  X(LibraryNotFound, "ERR_LIBRARY_NOT_FOUND")        \
  X(NotImplemented, "ERR_NOT_IMPLEMENTED")           \
  X(InvalidPlan, "ERR_INVALID_PLAN")                 \
  X(DeviceBusy, "ERR_DEVICE_BUSY")                   \
  X(NonFinite, "ERR_NON_FINITE")                     \
  X(CollectiveTimeout, "ERR_COLLECTIVE_TIMEOUT")     \
  X(CollectiveAborted, "ERR_COLLECTIVE_ABORTED")     \
  X(CommTimeout, "ERR_COMM_TIMEOUT")                 \
  X(CommPeerLost, "ERR_COMM_PEER_LOST")              \
  X(Internal, "ERR_INTERNAL")

enum class ErrorCode {
#define VIT_ENUM_ENTRY(name, str) name,
  VIT_ERROR_CODES(VIT_ENUM_ENTRY)
#undef VIT_ENUM_ENTRY
};

const char* errorCodeString(ErrorCode code);

// `expected` and `received` are filled where the caller knows both sides (sizes, dtypes, devices),
// so that the message a user reads says what to change.
class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message, std::string expected = {}, std::string received = {})
      : code_(code), message_(std::move(message)), expected_(std::move(expected)),
        received_(std::move(received)) {}

  const char* what() const noexcept override { return message_.c_str(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& expected() const { return expected_; }
  const std::string& received() const { return received_; }

 private:
  ErrorCode code_;
  std::string message_;
  std::string expected_;
  std::string received_;
};

}  // namespace vit
