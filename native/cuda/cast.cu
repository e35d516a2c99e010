// CUDA entries of the cast kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void cast(Stream, const CastArgs&) { notYetOnCuda("cast"); }

}  // namespace vit::cuda
