#include "exec/slot_table.h"

#include "core/status.h"
#include "exec/plan_error.h"

namespace vit::exec {

namespace {

[[noreturn]] void viewError(const InstructionLocation* where, const std::string& field,
                            const std::string& problem, const std::string& expected,
                            const std::string& received) {
  if (where) throwPlanError(*where, field, problem, expected, received);
  throwPlanError(field, problem, expected, received);
}

}  // namespace

SlotTable::SlotTable(std::vector<uint64_t> bytes)
    : bytes_(std::move(bytes)), bases_(bytes_.size(), nullptr) {}

void SlotTable::check(const ViewRef& view, const std::string& field,
                      const InstructionLocation* where) const {
  if (view.slot >= bytes_.size()) {
    viewError(where, field + ".slot", "no such slot",
              "a slot index below " + std::to_string(bytes_.size()), std::to_string(view.slot));
  }
  const uint64_t capacity = bytes_[view.slot];
  uint64_t end = 0;
  if (__builtin_add_overflow(view.offset, view.bytes, &end) || end > capacity) {
    viewError(where, field,
              "the view ends past slot " + std::to_string(view.slot) + " (" +
                  std::to_string(capacity) + " bytes)",
              "offset + bytes <= " + std::to_string(capacity),
              "offset " + std::to_string(view.offset) + " + bytes " + std::to_string(view.bytes));
  }
}

ResolvedView SlotTable::resolve(const ViewRef& view, const std::string& field,
                                const InstructionLocation* where) const {
  check(view, field, where);
  uint8_t* base = bases_[view.slot];
  if (!base) {
    throw Error(ErrorCode::Internal, "slot " + std::to_string(view.slot) + " has no memory yet",
                "a slot with memory", "none");
  }
  return ResolvedView{base + view.offset, view.bytes, base, view.offset, view.slot};
}

}  // namespace vit::exec
