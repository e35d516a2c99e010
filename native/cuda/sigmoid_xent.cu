// CUDA entries of the sigmoid_xent kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void sigmoidXent(Stream, const SigmoidXentArgs&) { notYetOnCuda("sigmoid_xent"); }

}  // namespace vit::cuda
