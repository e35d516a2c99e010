// Running a loop body over [0, n) on a kernel's pool, inline when the work is too small for the
// wake-up of other threads to pay off. Results never depend on which path ran: every body writes
// disjoint outputs.
#pragma once

#include <cstdint>

#include "cpu/thread_pool.h"
#include "kernels.h"

namespace vit::cpu {

inline ThreadPool& poolOf(Stream stream) {
  return stream.handle ? *static_cast<ThreadPool*>(stream.handle) : defaultThreadPool();
}

// `work`: about how many elements the whole loop touches; below ~64K it runs on one thread.
template <typename Fn>
void parallelRows(Stream stream, int64_t n, int64_t work, const Fn& fn) {
  if (n <= 0) return;
  if (work < (int64_t{1} << 16) || n == 1) {
    fn(int64_t{0}, n);
    return;
  }
  poolOf(stream).parallelFor(n, fn);
}

}  // namespace vit::cpu
