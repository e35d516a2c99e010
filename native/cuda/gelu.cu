// GELU (full or column range) on the GPU: not yet (the CUDA backend work fills this in). Until then
// the kernel table entries fail loudly with ERR_NOT_IMPLEMENTED instead of running nothing.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void geluFwd(Stream, const GeluFwdArgs&) { notYetOnCuda("gelu_fwd"); }
void geluBwd(Stream, const GeluBwdArgs&) { notYetOnCuda("gelu_bwd"); }

}  // namespace vit::cuda
