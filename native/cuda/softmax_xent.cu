// CUDA entries of the softmax_xent kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void softmaxXent(Stream, const SoftmaxXentArgs&) { notYetOnCuda("softmax_xent"); }

}  // namespace vit::cuda
