#include "core/status.h"

namespace vit {

const char* errorCodeString(ErrorCode code) {
  switch (code) {
#define VIT_CASE_ENTRY(name, str) \
  case ErrorCode::name:           \
    return str;
    VIT_ERROR_CODES(VIT_CASE_ENTRY)
#undef VIT_CASE_ENTRY
  }
  return "ERR_INTERNAL";
}

}  // namespace vit
