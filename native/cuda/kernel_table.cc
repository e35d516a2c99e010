// The cuda backend's kernel table, built from the list in kernels.h.
#include "kernels.h"

namespace vit::cuda {

VIT_DEFINE_KERNEL_TABLE()

}  // namespace vit::cuda
