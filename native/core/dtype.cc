#include "core/dtype.h"

#include "core/status.h"

namespace vit {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
  }
  return "?";
}

DType parseDType(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  if (name == "i32") return DType::I32;
  if (name == "u8") return DType::U8;
  throw Error(ErrorCode::InvalidArgument, "unknown dtype '" + name + "'", "one of f32, bf16, i32, u8",
              name);
}

}  // namespace vit
