// Counters of the CUDA GEMM's plan cache (native/cuda/gemm.cu), for tests and `device.stats()`:
// after the first call of a shape, later calls of that shape must not query the heuristic again.
// Process-wide, summed over devices.
#pragma once

#include <cstdint>

namespace vit::cuda {

struct GemmCacheStats {
  int64_t heuristicQueries = 0;  // cublasLtMatmulAlgoGetHeuristic calls so far
  int64_t plans = 0;             // plans (descriptors + chosen algorithm) currently cached
};

GemmCacheStats gemmCacheStats();

}  // namespace vit::cuda
