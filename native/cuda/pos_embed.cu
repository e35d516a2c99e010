// CUDA entries of the pos_embed kernels: not implemented yet (the CPU backend runs them), see not_implemented.h.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void posEmbedAdd(Stream, const PosEmbedAddArgs&) { notYetOnCuda("pos_embed_add"); }
void posEmbedBwd(Stream, const PosEmbedBwdArgs&) { notYetOnCuda("pos_embed_bwd"); }

}  // namespace vit::cuda
