// The runtime of the kernel declarations' expressions (lib/kernels/declare.ts "Expr"), which the
// generated launchers (native/generated/launchers_gen.cc) evaluate: overflow-checked integers and the
// span and layout helpers declarations call by name. Plain C++, no N-API: what an expression means
// does not depend on where its values come from.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "kernels.h"

namespace vit::exprs {

// ---- overflow-checked integers (declaration expressions) ----

// The kernel and the thing an expression sizes, for the overflow error; set by CkScope.
struct CkContext {
  const std::string* kernel = nullptr;
  const char* what = "";
};
CkContext& ckContext();

// Restores the previous context on scope exit (expressions never nest across scopes).
class CkScope {
 public:
  CkScope(const std::string& kernel, const char* what);
  CkScope(const std::string& kernel, const std::string& what);
  ~CkScope();

 private:
  CkContext saved_;
  std::string what_;
};

[[noreturn]] void throwCkOverflow();

// An int64 whose + - * / throw ERR_SHAPE_MISMATCH ("<kernel> <what> spans more than 2^63 bytes")
// instead of wrapping.
struct Ck {
  int64_t v;
  Ck(int64_t x) : v(x) {}  // NOLINT: implicit, so literals and fields mix
  Ck(int x) : v(x) {}      // NOLINT
  Ck(bool x) = delete;
};
inline Ck operator+(Ck a, Ck b) {
  int64_t r;
  if (__builtin_add_overflow(a.v, b.v, &r)) throwCkOverflow();
  return r;
}
inline Ck operator-(Ck a, Ck b) {
  int64_t r;
  if (__builtin_sub_overflow(a.v, b.v, &r)) throwCkOverflow();
  return r;
}
inline Ck operator*(Ck a, Ck b) {
  int64_t r;
  if (__builtin_mul_overflow(a.v, b.v, &r)) throwCkOverflow();
  return r;
}
inline Ck operator/(Ck a, Ck b) { return b.v == 0 ? Ck(0) : Ck(a.v / b.v); }
inline Ck operator%(Ck a, Ck b) { return b.v == 0 ? Ck(0) : Ck(a.v % b.v); }
inline bool operator<(Ck a, Ck b) { return a.v < b.v; }
inline bool operator<=(Ck a, Ck b) { return a.v <= b.v; }
inline bool operator>(Ck a, Ck b) { return a.v > b.v; }
inline bool operator>=(Ck a, Ck b) { return a.v >= b.v; }
inline bool operator==(Ck a, Ck b) { return a.v == b.v; }
inline bool operator!=(Ck a, Ck b) { return a.v != b.v; }
inline Ck ckMax(Ck a, Ck b) { return a.v > b.v ? a : b; }
inline Ck ckMin(Ck a, Ck b) { return a.v < b.v ? a : b; }

// Message interpolation: integers as integers, floats in shortest round-trip form.
std::string exprText(Ck x);
std::string exprText(double x);
std::string exprText(const std::string& x);
std::string exprText(uint64_t x);
inline std::string exprText(int64_t x) { return exprText(Ck(x)); }
inline std::string exprText(float x) { return exprText(static_cast<double>(x)); }


// The per-row span helpers the declarations call (native/core/row_layout.h has the RowLayout one).
// Elements of a [rows, cols] matrix with rows `stride` apart (0 = dense): (rows - 1) * stride + cols.
Ck stridedRows(Ck rows, Ck cols, Ck stride);
// The stride a 0 ("dense") stands for.
inline Ck effectiveStride(Ck stride, Ck dense) { return stride.v == 0 ? dense : stride; }
// Elements spanned by `batch` runs of `cols`, runs `stride` apart.
inline Ck runs(Ck batch, Ck cols, Ck stride) { return batch.v == 0 || cols.v == 0 ? Ck(0) : (batch - 1) * stride + cols; }
// Elements of a [rows, dim] operand laid out by a RowLayout (kernels.h).
Ck layoutSpan(const RowLayout& l, Ck rows, Ck dim);
inline std::string dtypeText(DType t) { return dtypeName(t); }
// "a" when a == b, else "a | b": the dtypes a field accepts when one of them is another field's.
inline std::string dtypeChoices(DType a, DType b) {
  return a == b ? dtypeText(a) : dtypeText(a) + " | " + dtypeText(b);
}
// A float that stays positive and finite in f32 (1e-50 is a positive double but a zero float).
inline bool positiveF32(float x) { return x > 0.0f && x <= 3.4028234663852886e38f; }
inline bool finiteF32(float x) { return x >= -3.4028234663852886e38f && x <= 3.4028234663852886e38f; }
// start + n fits in 64 bits (random_init's element index never wraps).
inline bool startPlusFits(uint64_t start, Ck n) { return start + static_cast<uint64_t>(n.v) >= start; }
// Elements of `batch` [rows, cols] matrices with leading dimension ld, batches `stride` apart.
inline Ck matrixSpan(Ck batch, Ck rows, Ck cols, Ck ld, Ck stride) {
  if (batch.v == 0 || rows.v == 0 || cols.v == 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}
bool sameLayout(const RowLayout& a, const RowLayout& b);

}  // namespace vit::exprs
