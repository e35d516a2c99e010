#include "exec/kernel_call.h"

#include <string>

#include "core/status.h"

namespace vit::exec {

double RunContext::runScalar(size_t index) const {
  if (!runScalars_ || index >= runScalars_->size()) {
    throw Error(ErrorCode::Internal, "run scalar " + std::to_string(index) + " is missing",
                "a scalar checked at load", "none");
  }
  return (*runScalars_)[index];
}

// Backend::download waits for the work queued before it (a plain memcpy on the CPU, a synchronous
// copy on CUDA's stream), so the value is the one earlier instructions of the step wrote.
float RunContext::readF32(const void* deviceAddress) {
  // The value may come from any plan stream; the backend's download only orders after its own.
  if (runtime_) runtime_->synchronize();
  float value = 0;
  backend_.download(&value, deviceAddress, sizeof value);
  return value;
}

const float* RunContext::runScalarF32Ptr(size_t index) const {
  if (!runtime_) {
    throw Error(ErrorCode::Internal, "run scalar pointers without a plan runtime",
                "a plan on a backend that reads scalars on the device", "none");
  }
  return runtime_->runScalarsF32() + index;
}

const int64_t* RunContext::runScalarI64Ptr(size_t index) const {
  if (!runtime_) {
    throw Error(ErrorCode::Internal, "run scalar pointers without a plan runtime",
                "a plan on a backend that reads scalars on the device", "none");
  }
  return runtime_->runScalarsI64() + index;
}

}  // namespace vit::exec
