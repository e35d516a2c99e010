// What the generated launchers (native/generated/launchers_gen.cc, from lib/kernels/*.ts) are made
// of: field readers that name the kernel and the field in every typed error, overflow-checked
// integer arithmetic for the declarations' expressions, and the operand shapes the declaration
// language knows (plain buffers, attention's head views, lists of records, parallel columns).
// Nothing here knows a particular kernel.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "addon/args.h"
#include "addon/launch_context.h"
#include "addon/operand_checks.h"
#include "core/kernel_exprs.h"
#include "kernels.h"

namespace vit::addon {

// The expression runtime of the declarations (Ck, the span helpers), for the generated code.
using namespace vit::exprs;  // NOLINT(google-build-using-namespace)

// The elements an operand spans, checked to fit 2^63 bytes at `dtype`'s size.
int64_t elementsFor(const std::string& kernel, const std::string& name, int64_t elements, DType dtype);

// ---- field readers: every error names the kernel and the field (`label`); `key` is the
// property read (they differ inside nested objects: label "xLayout.groupRows", key "groupRows").

DType dtypeProp(const Napi::Object& o, const std::string& kernel, const char* label,
                std::initializer_list<DType> allowed, const char* key);
double scalarProp(const Napi::Object& o, const std::string& kernel, const char* label, double lo,
                  double hi, bool hiOpen, const char* key);

// An enum given by its spec spelling: ERR_INVALID_ARGUMENT "<kernel> <label> must be 'a' or 'b'".
template <typename E>
E enumProp(const Napi::Object& o, const std::string& kernel, const char* label,
           std::initializer_list<std::pair<const char*, E>> names, const char* key) {
  const std::string given = stringProp(o, key);
  std::string quoted, bars;
  size_t i = 0;
  for (const auto& [n, e] : names) {
    if (given == n) return e;
    const bool last = ++i == names.size();
    quoted += (quoted.empty() ? "" : last ? " or " : ", ") + std::string("'") + n + "'";
    bars += (bars.empty() ? "" : " | ") + std::string(n);
  }
  throw Error(ErrorCode::InvalidArgument, kernel + " " + label + " must be " + quoted, bars, given);
}

// o[key] as an object (ERR_INVALID_ARGUMENT "must be { fields }" otherwise).
Napi::Object objectProp(const Napi::Object& o, const std::string& kernel, const char* label,
                        const char* fields);
Napi::Array arrayProp(const Napi::Object& o, const std::string& kernel, const char* key,
                      const char* expected);
Napi::Object itemObject(const Napi::Array& arr, uint32_t i, const std::string& kernel,
                        const std::string& label, const char* expected);
// An array of `count` integers in [0, 2^32).
void wordsProp(const Napi::Object& o, const std::string& kernel, const char* key, uint32_t* out,
               uint32_t count);

// ---- operands ----

// An output may be exactly an input (the same first element, and `sameLayout`: elementwise kernels
// read each element before writing it) or disjoint from it; any other overlap is refused.
void requireInPlaceOrDistinct(const std::string& kernel, const char* outName, const Operand& out,
                              const char* inName, const Operand& in, bool sameLayout,
                              const std::string& expected, const std::string& note);

// A [B, T, H, Dh] view { buffer, offset, batchStride, tokenStride, headStride } (elements).
struct HeadViewShape {
  DType dtype;
  int64_t batch, tokens, heads, headDim;
};
struct HeadView {
  Operand operand;  // the buffer, its extent checked to hold the view's last element
  void* address = nullptr;  // its first element (buffer + offset)
  HeadStrides strides;
  int64_t offset = 0, tokens = 0;
  int64_t rowSpan = 0;  // elements from a token's first head to its last head's end
  HeadViewShape shape{};
};
HeadView headViewProp(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
                      const char* name, const HeadViewShape& shape);
// Outputs written by many tasks at once: heads, tokens and batches of each land on distinct
// elements, and outputs sharing memory (dQ, dK, dV of the fused layout) are disjoint column ranges
// of the same rows (equal token and batch strides, non-overlapping [offset, offset + rowSpan)).
void requireHeadViewOutputs(const std::string& kernel,
                            std::initializer_list<std::pair<const char*, const HeadView*>> outputs);

// One operand of one item of a list field (adamw_multi's tensors), for the overlap sweep.
struct ListUse {
  Operand operand;
  uint32_t item;
  bool written;
};
// Every written range disjoint from every other range of the list (read-only operands may overlap
// each other: several parameters may share one gradient). O(n log n) over all items.
void requireDisjointItems(const std::string& kernel, const char* list, std::vector<ListUse> uses);

// Parallel arrays of one length: buffers (inputs), their dtypes and element counts.
struct Columns {
  std::vector<DType> dtypes;
  std::vector<int64_t> sizes;
  std::vector<const void*> buffers;
  std::vector<Operand> operands;
};
Columns readColumns(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
                    const char* buffers, const char* dtypes, const char* sizes,
                    std::initializer_list<DType> allowed);

}  // namespace vit::addon
