// AdamW on the GPU: not yet (the CUDA backend work fills this in with the formula of
// native/cpu/adamw.cc); until then the table entries fail loudly with ERR_NOT_IMPLEMENTED.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void adamw(Stream, const AdamwArgs&) { notYetOnCuda("adamw"); }
void adamwMulti(Stream, const AdamwMultiArgs&) { notYetOnCuda("adamw_multi"); }

}  // namespace vit::cuda
