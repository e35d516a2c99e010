// LayerNorm / RMSNorm on the GPU: not yet (the CUDA backend work fills this in). Until then the
// kernel table entries fail loudly with ERR_NOT_IMPLEMENTED instead of running nothing.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void layerNormFwd(Stream, const LayerNormFwdArgs&) { notYetOnCuda("layer_norm_fwd"); }
void layerNormBwd(Stream, const LayerNormBwdArgs&) { notYetOnCuda("layer_norm_bwd"); }

}  // namespace vit::cuda
