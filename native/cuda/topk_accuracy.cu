// CUDA entries of the topk_accuracy kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void topkAccuracy(Stream, const TopkAccuracyArgs&) { notYetOnCuda("topk_accuracy"); }

}  // namespace vit::cuda
