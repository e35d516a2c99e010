// CUDA entries of the mean_pool kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void meanPool(Stream, const MeanPoolArgs&) { notYetOnCuda("mean_pool"); }
void meanPoolBwd(Stream, const MeanPoolBwdArgs&) { notYetOnCuda("mean_pool_bwd"); }

}  // namespace vit::cuda
