#include "addon/launch_context.h"

#include <algorithm>

#include "addon/buffer_handle.h"

namespace vit::addon {

namespace {

// A BufferHandle covers at least one byte, so even an empty buffer aliases itself.
uint64_t extent(const Operand& o) { return o.isView() ? o.bytes : std::max<uint64_t>(o.bytes, 1); }

std::string rangeText(const Operand& o) {
  return "slot " + std::to_string(o.slot) + " [" + std::to_string(o.offset) + ", " +
         std::to_string(o.offset + o.bytes) + ")";
}

}  // namespace

bool overlaps(const Operand& a, const Operand& b) {
  if (!a.present || !b.present || a.base != b.base) return false;
  return a.offset < b.offset + extent(b) && b.offset < a.offset + extent(a);
}

std::string overlapText(const Operand& a, const Operand& b) {
  if (!a.isView() && !b.isView()) return "the same buffer";
  return "overlapping views (" + (a.isView() ? rangeText(a) : "a buffer") + " and " +
         (b.isView() ? rangeText(b) : "a buffer") + ")";
}

Operand BufferOperands::resolve(const Napi::Value& value, const std::string& kernel,
                                const std::string& name) {
  BufferHandle* buf = BufferHandle::unwrapValue(env(), value, name.c_str());
  void* data = buf->data("use");  // ERR_DISPOSED before anything else is said about it
  buf->requireOn(device(), kernel + " operand " + name);
  Operand o;
  o.present = true;
  o.address = data;
  o.bytes = buf->bytes();
  o.base = data;
  return o;
}

}  // namespace vit::addon
