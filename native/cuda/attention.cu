// Fused attention on the GPU: not yet (the flash-attention CUDA kernels come with the CUDA backend
// work). The table entries fail loudly with a typed error instead of running nothing.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void attentionFwd(Stream, const AttentionFwdArgs&) { notYetOnCuda("attention_fwd"); }
void attentionBwd(Stream, const AttentionBwdArgs&) { notYetOnCuda("attention_bwd"); }

}  // namespace vit::cuda
