// Storage types of device buffers. Compute is always fp32 (or wider); bf16 is a storage format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vit {

enum class DType : uint8_t { F32 = 0, BF16 = 1, I32 = 2, U8 = 3 };

size_t dtypeSize(DType dtype);
const char* dtypeName(DType dtype);
// Throws vit::Error(InvalidArgument) naming the accepted names.
DType parseDType(const std::string& name);

}  // namespace vit
