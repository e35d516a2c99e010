// Device scratch memory for kernels that need temporary space (partial sums of a two-pass
// reduction, a cuBLASLt workspace, a staging table): one buffer per stream, grow-only, never freed
// while the process runs. Never-freed matters: a CUDA graph captured with a scratch address keeps
// using it on every replay. Growth is a cudaMalloc, which must not happen during a step once warmed
// up, nor during a graph capture; the executor's first run of a plan is always a direct (uncaptured)
// run, so a kernel that asks for the same size every call grows its scratch then and never again.
//
// Rules for kernels: ask for the scratch in the host function, on the stream you launch on, at most
// once per call (a second call may return a different, larger buffer: take the largest size first);
// kernels on one stream run in order, so they may all share its one buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace vit::cuda {

// At least `bytes` bytes (256-byte aligned) of device memory reserved for `stream`. Throws
// ERR_DEVICE_OOM when it cannot grow, and ERR_CUDA when it would have to grow during a stream
// capture (the plan then runs without graphs, and says why).
void* kernelScratch(Stream stream, size_t bytes);

struct KernelScratchStats {
  uint64_t bytes = 0;     // reserved over all streams, retired buffers included
  uint64_t mallocs = 0;   // cudaMalloc calls so far
};
KernelScratchStats kernelScratchStats();

}  // namespace vit::cuda
