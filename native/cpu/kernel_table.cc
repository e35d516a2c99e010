// The cpu backend's kernel table, built from the list in kernels.h.
#include "kernels.h"

namespace vit::cpu {

VIT_DEFINE_KERNEL_TABLE()

}  // namespace vit::cpu
