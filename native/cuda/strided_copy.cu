// CUDA entry of strided_copy: not implemented yet (the CPU backend runs it), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void stridedCopy(Stream, const StridedCopyArgs&) { notYetOnCuda("strided_copy"); }

}  // namespace vit::cuda
