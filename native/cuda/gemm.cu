// GEMM on the GPU: not yet. The cuBLASLt-backed GEMM (with its fused bias/GELU epilogues) arrives
// with the CUDA backend work; until then the kernel table entry fails loudly with a typed error
// instead of the slot being missing or silently falling back to the CPU.
#include "core/status.h"
#include "kernels.h"

namespace vit::cuda {

void gemm(Stream, const GemmArgs&) {
  throw Error(ErrorCode::NotImplemented,
              "gemm is not implemented on CUDA yet: the cuBLASLt GEMM arrives with the CUDA backend "
              "work; use a cpu device for now",
              "a cpu device", "cuda");
}

}  // namespace vit::cuda
