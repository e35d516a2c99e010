// The ERR_NON_FINITE error of assert_finite (lib/kernels/assert_finite.ts AssertFiniteArgs), built in one place
// so the CPU backend (which finds the bad value itself) and the CUDA backend (which finds it on the
// device and reads the index and value back) throw the same message, expected and received.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace vit {

// x[index] of an n-element array named `what` is `value`, which is NaN or +-inf.
[[noreturn]] inline void throwNonFinite(const char* what, int64_t n, int64_t index, float value) {
  const std::string name = what && *what ? what : "value";
  const std::string received = std::isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");
  throw Error(ErrorCode::NonFinite,
              name + (n > 1 ? "[" + std::to_string(index) + "]" : "") + " is " + received +
                  ": the step was stopped before the optimizer update",
              "a finite " + name, received);
}

}  // namespace vit
