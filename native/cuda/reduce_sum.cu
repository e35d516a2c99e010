// CUDA entries of the reduce_sum kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void reduceSum(Stream, const ReduceSumArgs&) { notYetOnCuda("reduce_sum"); }

}  // namespace vit::cuda
