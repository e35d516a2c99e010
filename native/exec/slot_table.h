// The memory a plan addresses: slot 0 is its arena, slots 1.. the caller's persistent buffers. Views
// are checked against slot sizes with overflow-checked arithmetic before any pointer is formed, so a
// plan cannot reach outside its memory however large its offsets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exec/plan_layout.h"

namespace vit::exec {

// A checked view: its address and, for aliasing checks, the allocation it lies in.
struct ResolvedView {
  uint8_t* address = nullptr;
  uint64_t bytes = 0;
  const void* base = nullptr;  // the slot's allocation (two slots may share one buffer)
  uint64_t offset = 0;         // address - base
  uint64_t slot = 0;
};

class SlotTable {
 public:
  // Sizes only: enough to validate views before the arena is allocated.
  explicit SlotTable(std::vector<uint64_t> bytes);

  size_t size() const { return bytes_.size(); }
  uint64_t bytes(size_t slot) const { return bytes_[slot]; }
  void setBase(size_t slot, void* base) { bases_[slot] = static_cast<uint8_t*>(base); }

  // Throws ERR_INVALID_PLAN naming `field` (with `where` when given) unless the view's slot exists
  // and offset + bytes <= the slot's size (computed without overflow).
  void check(const ViewRef& view, const std::string& field,
             const InstructionLocation* where = nullptr) const;
  // check(), then the address (the slot's base must be set).
  ResolvedView resolve(const ViewRef& view, const std::string& field,
                       const InstructionLocation* where = nullptr) const;

 private:
  std::vector<uint64_t> bytes_;
  std::vector<uint8_t*> bases_;
};

}  // namespace vit::exec
