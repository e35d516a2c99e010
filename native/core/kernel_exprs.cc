#include "core/kernel_exprs.h"

#include <cstdio>

#include "core/status.h"

namespace vit::exprs {

// ---- Ck ----

CkContext& ckContext() {
  thread_local CkContext context;
  return context;
}

CkScope::CkScope(const std::string& kernel, const char* what) : saved_(ckContext()) {
  ckContext() = CkContext{&kernel, what};
}

CkScope::CkScope(const std::string& kernel, const std::string& what)
    : saved_(ckContext()), what_(what) {
  ckContext() = CkContext{&kernel, what_.c_str()};
}

CkScope::~CkScope() { ckContext() = saved_; }

void throwCkOverflow() {
  const CkContext& c = ckContext();
  throw Error(ErrorCode::ShapeMismatch,
              (c.kernel ? *c.kernel : std::string("kernel")) + " " + c.what +
                  " spans more than 2^63 bytes",
              "a footprint below 2^63 bytes", "sizes and strides that overflow 64 bits");
}

std::string exprText(Ck x) { return std::to_string(x.v); }
std::string exprText(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}
std::string exprText(const std::string& x) { return x; }
std::string exprText(uint64_t x) { return std::to_string(x); }


Ck stridedRows(Ck rows, Ck cols, Ck stride) {
  if (stride.v == 0) return rows * cols;
  if (rows.v == 0 || cols.v == 0) return 0;
  return (rows - 1) * stride + cols;
}

Ck layoutSpan(const RowLayout& l, Ck rows, Ck dim) {
  if (l.groupRows == 0) return rows * dim;
  if (rows.v == 0) return 0;
  return (rows / Ck(l.groupRows) - 1) * Ck(l.groupStride) + Ck(l.groupRows) * dim;
}

bool sameLayout(const RowLayout& a, const RowLayout& b) {
  return a.groupRows == b.groupRows && (a.groupRows == 0 || a.groupStride == b.groupStride);
}

}  // namespace vit::exprs
