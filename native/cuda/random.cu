// Philox and random init on the GPU: not yet. The implementation must use native/core/philox.h and
// native/core/random_dist.h (host/device code) so that it reproduces the CPU's values bit for bit.
#include "core/philox.h"
#include "core/random_dist.h"
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void philox(Stream, const PhiloxArgs&) { notYetOnCuda("philox"); }
void randomInit(Stream, const RandomInitArgs&) { notYetOnCuda("random_init"); }

}  // namespace vit::cuda
