#include "addon/spec_readers.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "exec/dynamic_scalar.h"

namespace vit::addon {

int64_t elementsFor(const std::string& kernel, const std::string& name, int64_t elements,
                    DType dtype) {
  checkedBytes(kernel, name, elements, static_cast<int64_t>(dtypeSize(dtype)));
  return elements;
}

// ---- readers ----

DType dtypeProp(const Napi::Object& o, const std::string& kernel, const char* label,
                std::initializer_list<DType> allowed, const char* key) {
  const std::string given = stringProp(o, key);
  std::string names;
  for (DType a : allowed) names += (names.empty() ? "" : " or ") + std::string(dtypeName(a));
  DType t;
  try {
    t = parseDType(given);
  } catch (const Error&) {
    // Not a dtype at all: the same expected text as a dtype the kernel does not take.
    throw Error(ErrorCode::InvalidArgument, kernel + " " + label + " must be " + names, names, given);
  }
  for (DType a : allowed) {
    if (a == t) return t;
  }
  throw Error(ErrorCode::DtypeMismatch, kernel + " " + label + " must be " + names, names,
              dtypeName(t));
}

double scalarProp(const Napi::Object& o, const std::string& kernel, const char* label, double lo,
                  double hi, bool hiOpen, const char* key) {
  double d = numberProp(o, key);
  exec::checkScalarValue(kernel, label, d, exec::ScalarRange{lo, hi, hiOpen, false});
  return d;
}

Napi::Object objectProp(const Napi::Object& o, const std::string& kernel, const char* label,
                        const char* fields) {
  const char* key = std::strrchr(label, '.') ? std::strrchr(label, '.') + 1 : label;
  Napi::Value v = o.Get(key);
  if (!v.IsObject() || v.IsArray()) {
    const std::string shape = std::string("{ ") + fields + " }";
    throw Error(ErrorCode::InvalidArgument, kernel + " " + label + " must be " + shape, shape,
                jsTypeName(v));
  }
  return v.As<Napi::Object>();
}

Napi::Array arrayProp(const Napi::Object& o, const std::string& kernel, const char* key,
                      const char* expected) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, kernel + " " + key + " must be an array", expected,
                jsTypeName(v));
  }
  return v.As<Napi::Array>();
}

Napi::Object itemObject(const Napi::Array& arr, uint32_t i, const std::string& kernel,
                        const std::string& label, const char* expected) {
  Napi::Value v = arr.Get(i);
  if (!v.IsObject() || v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument, kernel + " " + label + " must be an object", expected,
                jsTypeName(v));
  }
  return v.As<Napi::Object>();
}

void wordsProp(const Napi::Object& o, const std::string& kernel, const char* key, uint32_t* out,
               uint32_t count) {
  Napi::Value v = o.Get(key);
  const std::string expected = "an array of " + std::to_string(count) + " integers in [0, 2^32)";
  if (!v.IsArray() || v.As<Napi::Array>().Length() != count) {
    throw Error(ErrorCode::InvalidArgument, kernel + " " + key + " must be " + expected, expected,
                v.IsArray() ? "an array of length " + std::to_string(v.As<Napi::Array>().Length())
                            : std::string(jsTypeName(v)));
  }
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value w = arr.Get(i);
    double d = w.IsNumber() ? w.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && std::floor(d) == d)) {
      throw Error(ErrorCode::InvalidArgument,
                  kernel + " " + key + "[" + std::to_string(i) + "] must be a u32",
                  "an integer in [0, 2^32)", w.IsNumber() ? exec::numberText(d) : jsTypeName(w));
    }
    out[i] = static_cast<uint32_t>(d);
  }
}

// ---- operands ----

void requireInPlaceOrDistinct(const std::string& kernel, const char* outName, const Operand& out,
                              const char* inName, const Operand& in, bool sameLayout,
                              const std::string& expected, const std::string& note) {
  if (!overlaps(out, in)) return;
  if (out.address == in.address && sameLayout) return;
  throw Error(ErrorCode::InvalidArgument,
              kernel + " output " + outName + " overlaps " + inName +
                  " without being it (in place needs the same start and layout)",
              expected, overlapText(out, in) + note);
}

HeadView headViewProp(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
                      const char* name, const HeadViewShape& s) {
  Napi::Value value = spec.Get(name);
  if (!value.IsObject() || value.IsArray()) {
    throw Error(ErrorCode::InvalidArgument,
                kernel + " " + name +
                    " must be a view { buffer, offset, batchStride, tokenStride, headStride }",
                "object", jsTypeName(value));
  }
  Napi::Object o = value.As<Napi::Object>();
  HeadView v;
  v.offset = countProp(o, "offset");
  v.strides.batch = countProp(o, "batchStride");
  v.strides.token = countProp(o, "tokenStride");
  v.strides.head = countProp(o, "headStride");
  v.tokens = s.tokens;
  v.shape = s;
  // The buffer's type, disposal and device are checked before its footprint, its size after.
  Napi::Value buffer = o.Get("buffer");
  bufferOperand(ctx, buffer, kernel, name, 0);
  CkScope scope(kernel, std::string("operand ") + name);
  v.rowSpan = (Ck(s.heads > 0 ? s.heads - 1 : 0) * Ck(v.strides.head) + Ck(s.headDim)).v;
  int64_t needBytes = 0;
  if (s.batch > 0 && s.tokens > 0 && s.heads > 0) {
    Ck last = Ck(s.batch - 1) * Ck(v.strides.batch) + Ck(s.tokens - 1) * Ck(v.strides.token) +
              Ck(v.offset) + Ck(v.rowSpan);
    needBytes = (last * Ck(static_cast<int64_t>(dtypeSize(s.dtype)))).v;
  }
  v.operand = bufferOperand(ctx, buffer, kernel, name, needBytes);
  v.address = static_cast<char*>(v.operand.address) + v.offset * static_cast<int64_t>(dtypeSize(s.dtype));
  return v;
}

namespace {

[[noreturn]] void viewError(const std::string& kernel, const std::string& what,
                            const std::string& expected, const std::string& received) {
  throw Error(ErrorCode::InvalidArgument, kernel + " " + what, expected, received);
}

// Element offset of a view's first element from the start of its allocation: a plan may name one
// fused buffer through different PlanViews. -1 when not on an element boundary.
int64_t absoluteOffset(const HeadView& v, size_t elem) {
  if (v.operand.offset % elem != 0) return -1;
  return static_cast<int64_t>(v.operand.offset / elem) + v.offset;
}

}  // namespace

void requireHeadViewOutputs(const std::string& kernel,
                            std::initializer_list<std::pair<const char*, const HeadView*>> outputs) {
  for (const auto& [name, v] : outputs) {
    const std::string n = name;
    const HeadViewShape& d = v->shape;
    if (d.heads > 1 && v->strides.head < d.headDim) {
      viewError(kernel, "output " + n + " has heads that overlap",
                "headStride >= " + std::to_string(d.headDim), std::to_string(v->strides.head));
    }
    if (v->tokens > 1 && v->strides.token < v->rowSpan) {
      viewError(kernel, "output " + n + " has tokens that overlap",
                "tokenStride >= " + std::to_string(v->rowSpan), std::to_string(v->strides.token));
    }
    const int64_t batchSpan = (v->tokens - 1) * v->strides.token + v->rowSpan;
    if (d.batch > 1 && v->tokens > 0 && v->strides.batch < batchSpan) {
      viewError(kernel, "output " + n + " has batches that overlap",
                "batchStride >= " + std::to_string(batchSpan), std::to_string(v->strides.batch));
    }
  }
  for (auto x = outputs.begin(); x != outputs.end(); ++x) {
    for (auto y = x + 1; y != outputs.end(); ++y) {
      const HeadView& a = *x->second;
      const HeadView& b = *y->second;
      if (!overlaps(a.operand, b.operand)) continue;
      const size_t elem = dtypeSize(a.shape.dtype);
      const int64_t ao = absoluteOffset(a, elem), bo = absoluteOffset(b, elem);
      const bool sameRows = a.strides.token == b.strides.token && a.strides.batch == b.strides.batch;
      const int64_t lo = std::min(ao, bo), hi = std::max(ao + a.rowSpan, bo + b.rowSpan);
      const bool disjoint = ao + a.rowSpan <= bo || bo + b.rowSpan <= ao;
      if (ao < 0 || bo < 0 || !sameRows || !disjoint || hi - lo > a.strides.token) {
        viewError(kernel, std::string("outputs ") + x->first + " and " + y->first +
                              " share a buffer but may overlap",
                  "disjoint column ranges of rows with equal strides", "overlapping views");
      }
    }
  }
}

void requireDisjointItems(const std::string& kernel, const char* list, std::vector<ListUse> uses) {
  std::sort(uses.begin(), uses.end(), [](const ListUse& x, const ListUse& y) {
    return x.operand.base != y.operand.base ? x.operand.base < y.operand.base
                                            : x.operand.offset < y.operand.offset;
  });
  const void* base = nullptr;
  const ListUse* lastWrite = nullptr;
  const ListUse* lastRead = nullptr;
  uint64_t writeEnd = 0, readEnd = 0;
  auto extentEnd = [](const ListUse& u) {
    return u.operand.offset + (u.operand.isView() ? u.operand.bytes
                                                  : std::max<uint64_t>(u.operand.bytes, 1));
  };
  for (const ListUse& u : uses) {
    if (!u.operand) continue;
    if (u.operand.base != base) {
      base = u.operand.base;
      lastWrite = lastRead = nullptr;
      writeEnd = readEnd = 0;
    }
    const bool hitsWrite = lastWrite && u.operand.offset < writeEnd;
    const bool hitsRead = u.written && lastRead && u.operand.offset < readEnd;
    if (hitsWrite || hitsRead) {
      const ListUse& other = hitsWrite ? *lastWrite : *lastRead;
      uint32_t a = std::min(u.item, other.item), b = std::max(u.item, other.item);
      throw Error(ErrorCode::InvalidArgument,
                  kernel + " " + list + "[" + std::to_string(b) + "] uses memory that " + list +
                      "[" + std::to_string(a) + "] " +
                      (other.written || u.written ? "writes" : "reads"),
                  "distinct written buffers for every item, and read-only buffers distinct from "
                  "all of them",
                  "a shared buffer");
    }
    const uint64_t end = extentEnd(u);
    if (u.written && end > writeEnd) writeEnd = end, lastWrite = &u;
    if (!u.written && end > readEnd) readEnd = end, lastRead = &u;
  }
}

Columns readColumns(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
                    const char* buffers, const char* dtypes, const char* sizes,
                    std::initializer_list<DType> allowed) {
  Napi::Array b = arrayProp(spec, kernel, buffers, "array");
  Napi::Array d = arrayProp(spec, kernel, dtypes, "array");
  Napi::Array s = arrayProp(spec, kernel, sizes, "array");
  const uint32_t count = b.Length();
  if (d.Length() != count || s.Length() != count) {
    throw Error(ErrorCode::InvalidArgument,
                kernel + " " + buffers + ", " + dtypes + " and " + sizes + " must have one length",
                std::to_string(count) + " entries each",
                std::to_string(d.Length()) + " " + dtypes + ", " + std::to_string(s.Length()) + " " +
                    sizes);
  }
  Columns c;
  c.dtypes.resize(count);
  c.sizes.resize(count);
  c.buffers.resize(count);
  c.operands.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    // One entry at a time through the property readers, named "dtypes[i]" / "sizes[i]".
    const std::string index = "[" + std::to_string(i) + "]";
    Napi::Object entry = Napi::Object::New(ctx.env());
    entry.Set("dtype", d.Get(i));
    entry.Set("size", s.Get(i));
    c.dtypes[i] = dtypeProp(entry, kernel, (std::string(dtypes) + index).c_str(), allowed, "dtype");
    c.sizes[i] = countProp(entry, "size");
    c.operands[i] = bufferOperand(ctx, b.Get(i), kernel, std::string(buffers) + index,
                                  Need(elementsFor(kernel, std::string(buffers) + index, c.sizes[i], c.dtypes[i]), c.dtypes[i]));
    c.buffers[i] = c.operands[i].address;
  }
  return c;
}

}  // namespace vit::addon
