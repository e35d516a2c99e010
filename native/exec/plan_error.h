// ERR_INVALID_PLAN: the message says where in the plan (the instruction, when there is one), which
// field, and what is wrong; `expected` and `received` carry the two sides.
#pragma once

#include <string>

#include "core/status.h"
#include "exec/plan_layout.h"

namespace vit::exec {

// "invalid plan: <field>: <problem>".
[[noreturn]] void throwPlanError(const std::string& field, const std::string& problem,
                                 const std::string& expected, const std::string& received);
// "invalid plan: stream s, instruction i ('note'): <field>: <problem>".
[[noreturn]] void throwPlanError(const InstructionLocation& where, const std::string& field,
                                 const std::string& problem, const std::string& expected,
                                 const std::string& received);

// `error` with "stream s, instruction i ('note'): " before its message; code, expected and
// received unchanged. For failures of a kernel's own checks or of the kernel itself.
Error locatedError(const InstructionLocation& where, const Error& error);

}  // namespace vit::exec
