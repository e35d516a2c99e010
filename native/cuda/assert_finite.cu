// CUDA entry of assert_finite: not implemented yet (the CPU backend runs it), see not_implemented.h.
// The CUDA version belongs with issue 7's device-side scalars: a flag the host checks after the step.
#include "cuda/not_implemented.h"
#include "kernels.h"

namespace vit::cuda {

void assertFinite(Stream, const AssertFiniteArgs&) { notYetOnCuda("assert_finite"); }

}  // namespace vit::cuda
