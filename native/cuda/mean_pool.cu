// CUDA entries of the mean_pool kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void mean_pool(Stream, const MeanPoolArgs&) { notYetOnCuda("mean_pool"); }
void mean_pool_bwd(Stream, const MeanPoolBwdArgs&) { notYetOnCuda("mean_pool_bwd"); }

}  // namespace vit::cuda
