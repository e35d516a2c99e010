// CUDA entries of the global_norm kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void globalNorm(Stream, const GlobalNormArgs&) { notYetOnCuda("global_norm"); }

}  // namespace vit::cuda
