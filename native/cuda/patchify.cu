// CUDA entries of the patchify kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void patchify(Stream, const PatchifyArgs&) { notYetOnCuda("patchify"); }
void unpatchify(Stream, const PatchifyArgs&) { notYetOnCuda("unpatchify"); }

}  // namespace vit::cuda
