#include "exec/plan_error.h"

namespace vit::exec {

std::string InstructionLocation::describe() const {
  std::string s = "stream " + std::to_string(stream) + ", instruction " + std::to_string(index);
  if (!note.empty()) s += " ('" + note + "')";
  return s;
}

void throwPlanError(const std::string& field, const std::string& problem,
                    const std::string& expected, const std::string& received) {
  throw Error(ErrorCode::InvalidPlan, "invalid plan: " + field + ": " + problem, expected, received);
}

void throwPlanError(const InstructionLocation& where, const std::string& field,
                    const std::string& problem, const std::string& expected,
                    const std::string& received) {
  throw Error(ErrorCode::InvalidPlan,
              "invalid plan: " + where.describe() + ": " + field + ": " + problem, expected,
              received);
}

Error locatedError(const InstructionLocation& where, const Error& error) {
  static const std::string kPrefix = "invalid plan: ";
  const std::string& m = error.message();
  // A plan error raised without its location ("invalid plan: spec.a: ...") gets it after the prefix.
  std::string message = m.compare(0, kPrefix.size(), kPrefix) == 0
                            ? kPrefix + where.describe() + ": " + m.substr(kPrefix.size())
                            : where.describe() + ": " + m;
  return Error(error.code(), message, error.expected(), error.received());
}

}  // namespace vit::exec
