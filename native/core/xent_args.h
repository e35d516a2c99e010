// The checks of the losses that need the data (label and target values; the data-free ones are in
// lib/kernels/softmax_xent.ts and sigmoid_xent.ts, run by the launcher), one copy for the CPU backend
// and the CUDA one (which runs them on a downloaded copy, and only when VIT22B_CUDA_CHECK_INPUTS=1).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::xent_args {

// labels [n] (host memory) in [0, c).
inline void checkLabels(const int32_t* labels, int64_t n, int64_t c) {
  for (int64_t r = 0; r < n; ++r) {
    if (labels[r] < 0 || labels[r] >= c) {
      throw Error(ErrorCode::InvalidArgument,
                  "softmax_xent label of example " + std::to_string(r) + " is out of range",
                  "a class index in [0, " + std::to_string(c) + ")", std::to_string(labels[r]));
    }
  }
}

// targets [total] (host memory) in [0, 1]; a NaN fails too.
inline void checkTargets(const float* targets, int64_t total) {
  for (int64_t i = 0; i < total; ++i) {
    if (!(targets[i] >= 0.0f && targets[i] <= 1.0f)) {
      throw Error(ErrorCode::InvalidArgument,
                  "sigmoid_xent target " + std::to_string(i) + " is outside [0, 1]",
                  "a value in [0, 1]", std::to_string(targets[i]));
    }
  }
}

}  // namespace vit::xent_args
