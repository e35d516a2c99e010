// THE list of kernels. Each kernel's contract (argument struct, spec fields, data-free checks,
// aliasing rules) is declared once, in lib/kernels/<kernel>.ts; scripts/gen-kernels.mjs generates
// the structs and VIT_KERNELS from those declarations into generated/kernels_gen.h at build time.
// Each kernel has one implementation per backend with the same signature: cpu/<fn>.cc and
// cuda/<fn>.cu. The executor (native/exec) and DeviceHandle.launch call them through a KernelTable
// filled from VIT_KERNELS, after the generated launcher has checked the arguments: a kernel keeps
// only the checks that need the data (label values).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace vit {

// Where a kernel runs: a cudaStream_t on CUDA; on the CPU the cpu::ThreadPool that runs it
// (nullptr means the process-wide default pool). `comm` is the device's place in a mesh: a
// comm::DeviceComms (native/comm/device_comms.h: its coordinates and one Communicator per axis),
// set by the backend when the device belongs to a mesh, nullptr otherwise. Only the collective
// kernels (all_gather, reduce_scatter, all_reduce, collective_permute, axis_slice) read it.
struct Stream {
  void* handle = nullptr;
  void* comm = nullptr;
};

// Dynamic scalar fields. Fields declared `dynamic` (axpby alpha/beta, the optimizers' lr, step,
// weightDecay, decay, gradScale) have a companion `<field>Ptr`: nullptr (the default) means "use the
// value field"; otherwise the kernel reads the value from that address in the kernel's memory
// (device memory on CUDA, host memory on the CPU) when the work runs, and ignores the value field.
// The executor uses them on CUDA so a step captured as a CUDA graph picks up each run's learning rate
// and step, and the clip factor computed on the device, without a host round trip. Both backends
// honour them, so the meaning is the same everywhere.

// pos_embed_bwd sums rows in blocks of this many (see PosEmbedBwdArgs): both backends use the same
// blocking, so they give the same bits whatever their thread count.
inline constexpr int64_t kPosEmbedBwdRowBlock = 256;

}  // namespace vit

#include "generated/kernels_gen.h"

namespace vit {

enum class KernelId : uint16_t {
#define VIT_KERNEL_ENUM(id, fn, args, name) id,
  VIT_KERNELS(VIT_KERNEL_ENUM)
#undef VIT_KERNEL_ENUM
      Count
};

// Function-pointer table a backend fills in. Kernels report failures by throwing vit::Error.
struct KernelTable {
#define VIT_KERNEL_SLOT(id, fn, args, name) void (*fn)(Stream, const args&);
  VIT_KERNELS(VIT_KERNEL_SLOT)
#undef VIT_KERNEL_SLOT
};

// Defines `kernelTable()` inside a backend's namespace from the functions declared below.
#define VIT_DEFINE_KERNEL_TABLE()                       \
  const KernelTable& kernelTable() {                    \
    static const KernelTable table = {VIT_KERNELS(VIT_KERNEL_ADDRESS)}; \
    return table;                                       \
  }
#define VIT_KERNEL_ADDRESS(id, fn, args, name) &fn,

namespace cpu {
#define VIT_KERNEL_DECL(id, fn, args, name) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cpu

#if VIT22B_WITH_CUDA
namespace cuda {
#define VIT_KERNEL_DECL(id, fn, args, name) void fn(Stream stream, const args& a);
VIT_KERNELS(VIT_KERNEL_DECL)
#undef VIT_KERNEL_DECL
const KernelTable& kernelTable();
}  // namespace cuda
#endif

}  // namespace vit
