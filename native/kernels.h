// THE list of kernels. Each kernel has one argument struct, declared here once, and one
// implementation per backend with the same signature: cpu/<op>.cc and cuda/<op>.cu.
// The executor (native/exec) fills the argument structs from a Plan and calls through a
// KernelTable, so adding a kernel means: an entry in VIT_KERNELS, its struct, and the two files.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace vit {

// Where a kernel runs: a cudaStream_t on CUDA; unused (nullptr) on the CPU until the thread pool
// arrives, when it will carry the pool.
struct Stream {
  void* handle = nullptr;
};

// y = alpha * x + beta * y over n elements of `dtype` (f32 or bf16; bf16 is computed in f32 and
// rounded once on store). Scaling, residual adds and their backward all reduce to this.
struct AxpbyArgs {
  DType dtype;
  int64_t n;
  float alpha;
  const void* x;  // [n]
  float beta;
  void* y;  // [n], read and written
};

// X(Id, function name, argument struct)
#define VIT_KERNELS(X) X(Axpby, axpby, AxpbyArgs)

enum class KernelId : uint16_t {
#define VIT_KERNEL_ENUM(id, fn, args) id,
  VIT_KERNELS(VIT_KERNEL_ENUM)
#undef VIT_KERNEL_ENUM
      Count
};

// Function-pointer table a backend fills in. Kernels report failures by throwing vit::Error.
struct KernelTable {
#define VIT_KERNEL_SLOT(id, fn, args) void (*fn)(Stream, const args&);
  VIT_KERNELS(VIT_KERNEL_SLOT)
#undef VIT_KERNEL_SLOT
};

// Defines `kernelTable()` inside a backend's namespace from the functions declared below.
#define VIT_DEFINE_KERNEL_TABLE()                       \
  const KernelTable& kernelTable() {                    \
    static const KernelTable table = {VIT_KERNELS(VIT_KERNEL_ADDRESS)}; \
    return table;                                       \
  }
#define VIT_KERNEL_ADDRESS(id, fn, args) &fn,

namespace cpu {
#define VIT_KERNEL_DECL(id, fn, args) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cpu

#if VIT22B_WITH_CUDA
namespace cuda {
#define VIT_KERNEL_DECL(id, fn, args) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cuda
#endif

}  // namespace vit
