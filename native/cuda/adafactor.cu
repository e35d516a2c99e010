// Adafactor on the GPU: not yet (see native/cpu/adafactor.cc for the formula to implement).
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void adafactor(Stream, const AdafactorArgs&) { notYetOnCuda("adafactor"); }

}  // namespace vit::cuda
