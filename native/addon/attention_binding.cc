// Launchers for attention_fwd and attention_bwd (kernels.h AttentionFwdArgs / AttentionBwdArgs).
// spec: { dtype: 'f32' | 'bf16', batch, heads, tq, tk, headDim, scale,
//         q, k, v, o (, dO, dQ, dK, dV): { buffer, offset, batchStride, tokenStride, headStride },
//         lse: buffer }                       (offsets and strides in elements; lse dense [B, H, Tq] f32)
// Views let Q, K, V (and dQ, dK, dV) sit side by side in one fused [B, T, 3D + F] buffer. Inputs
// may share buffers and overlap freely; an output must not share memory with any input, must not
// overlap itself, and outputs sharing memory must be disjoint column ranges of the same rows.
// In a plan, `buffer` is a PlanView; "sharing memory" then means overlapping views.
#include <cmath>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

// Above this head dimension the tiles would leave L2; ViT-22B uses 128.
constexpr int64_t kMaxHeadDim = 256;

struct Dims {
  int64_t batch, heads, tq, tk, headDim;
};

struct View {
  const char* name;
  Operand buffer;
  int64_t offset;
  HeadStrides strides;
  int64_t tokens;
  int64_t rowSpan;  // elements from a token's first head to its last head's end
};

Napi::Object viewObject(const Napi::Object& spec, const std::string& kernel, const char* name) {
  Napi::Value v = spec.Get(name);
  if (!v.IsObject() || v.IsArray()) {
    throw Error(ErrorCode::InvalidArgument,
                kernel + " " + name + " must be a view { buffer, offset, batchStride, tokenStride, headStride }",
                "object", jsTypeName(v));
  }
  return v.As<Napi::Object>();
}

// Reads one [B, tokens, H, Dh] view and checks that the buffer holds its last element.
View readView(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
              const char* name, const Dims& d, int64_t tokens, DType dtype) {
  Napi::Object o = viewObject(spec, kernel, name);
  View v{name, Operand{}, countProp(o, "offset"), {}, tokens, 0};
  v.strides.batch = countProp(o, "batchStride");
  v.strides.token = countProp(o, "tokenStride");
  v.strides.head = countProp(o, "headStride");
  // The buffer's type, disposal and device are checked before its footprint, its size after.
  Napi::Value buffer = o.Get("buffer");
  bufferOperand(ctx, buffer, kernel, name, 0);
  const Footprint f{kernel, std::string("operand ") + name, "sizes and strides that overflow 64 bits"};
  v.rowSpan = f.add(f.mul(d.heads > 0 ? d.heads - 1 : 0, v.strides.head), d.headDim);
  int64_t needBytes = 0;
  if (d.batch > 0 && tokens > 0 && d.heads > 0) {
    int64_t last = f.add(f.mul(d.batch - 1, v.strides.batch), f.mul(tokens - 1, v.strides.token));
    last = f.add(f.add(last, v.offset), v.rowSpan);
    needBytes = f.mul(last, static_cast<int64_t>(dtypeSize(dtype)));
  }
  v.buffer = bufferOperand(ctx, buffer, kernel, name, needBytes);
  return v;
}

[[noreturn]] void overlapError(const std::string& kernel, const std::string& what,
                               const std::string& expected, const std::string& received) {
  throw Error(ErrorCode::InvalidArgument, kernel + " " + what, expected, received);
}

// An output written by several tasks at once must not alias itself: heads, tokens and batches
// must land on distinct elements.
void requireNoSelfOverlap(const View& v, const Dims& d, const std::string& kernel) {
  std::string n = v.name;
  if (d.heads > 1 && v.strides.head < d.headDim) {
    overlapError(kernel, "output " + n + " has heads that overlap",
                 "headStride >= " + std::to_string(d.headDim), std::to_string(v.strides.head));
  }
  if (v.tokens > 1 && v.strides.token < v.rowSpan) {
    overlapError(kernel, "output " + n + " has tokens that overlap",
                 "tokenStride >= " + std::to_string(v.rowSpan), std::to_string(v.strides.token));
  }
  int64_t batchSpan = (v.tokens - 1) * v.strides.token + v.rowSpan;
  if (d.batch > 1 && v.tokens > 0 && v.strides.batch < batchSpan) {
    overlapError(kernel, "output " + n + " has batches that overlap",
                 "batchStride >= " + std::to_string(batchSpan), std::to_string(v.strides.batch));
  }
}

// Element offset of a view's first element from the start of its allocation: a plan may name the
// fused buffer through different PlanViews, so offsets are compared from the common base. -1 when
// the view does not start on an element boundary (never disjoint columns of the same rows).
int64_t absoluteOffset(const View& v, size_t elem) {
  if (v.buffer.offset % elem != 0) return -1;
  return static_cast<int64_t>(v.buffer.offset / elem) + v.offset;
}

// Outputs in one buffer (dQ, dK, dV of the fused layout) must be disjoint column ranges of the
// same rows: equal token and batch strides, non-overlapping [offset, offset + rowSpan) within one
// token stride.
void requireDisjointOutputs(const View& x, const View& y, size_t elem, const std::string& kernel) {
  if (!overlaps(x.buffer, y.buffer)) return;
  std::string pair = std::string(x.name) + " and " + y.name;
  const int64_t xo = absoluteOffset(x, elem), yo = absoluteOffset(y, elem);
  bool sameRows = x.strides.token == y.strides.token && x.strides.batch == y.strides.batch;
  int64_t lo = std::min(xo, yo);
  int64_t hi = std::max(xo + x.rowSpan, yo + y.rowSpan);
  bool disjoint = xo + x.rowSpan <= yo || yo + y.rowSpan <= xo;
  if (xo < 0 || yo < 0 || !sameRows || !disjoint || hi - lo > x.strides.token) {
    overlapError(kernel, "outputs " + pair + " share a buffer but may overlap",
                 "disjoint column ranges of rows with equal strides", "overlapping views");
  }
}

void requireOffInputs(const View& out, const std::vector<const View*>& inputs, const Operand& lse,
                      const std::string& kernel) {
  for (const View* in : inputs) {
    if (overlaps(in->buffer, out.buffer)) {
      overlapError(kernel, std::string("output ") + out.name + " shares a buffer with input " + in->name,
                   "outputs in buffers distinct from the inputs", overlapText(out.buffer, in->buffer));
    }
  }
  if (overlaps(lse, out.buffer)) {
    overlapError(kernel, std::string("output ") + out.name + " shares a buffer with lse",
                 "distinct buffers", overlapText(out.buffer, lse));
  }
}

Dims readDims(const Napi::Object& spec, const std::string& kernel) {
  Dims d{countProp(spec, "batch"), countProp(spec, "heads"), countProp(spec, "tq"),
         countProp(spec, "tk"), countProp(spec, "headDim")};
  if (d.headDim < 1 || d.headDim > kMaxHeadDim) {
    throw Error(ErrorCode::InvalidArgument, kernel + " headDim is out of range",
                "1 <= headDim <= " + std::to_string(kMaxHeadDim), std::to_string(d.headDim));
  }
  if (d.tk == 0 && d.batch * d.heads * d.tq > 0) {
    throw Error(ErrorCode::InvalidArgument, kernel + " needs at least one key", "tk >= 1", "0");
  }
  return d;
}

float readScale(const Napi::Object& spec, const std::string& kernel) {
  double s = numberProp(spec, "scale");
  if (!std::isfinite(s) || s <= 0.0 || !std::isfinite(static_cast<float>(s))) {
    throw Error(ErrorCode::InvalidArgument, kernel + " scale must be a finite positive number",
                "a finite number > 0", std::to_string(s));
  }
  return static_cast<float>(s);
}

// lse: dense f32 [B, H, Tq].
Operand readLse(LaunchContext& ctx, const Napi::Object& spec, const std::string& kernel,
                const Dims& d) {
  bufferOperand(ctx, spec.Get("lse"), kernel, "lse", 0);
  const Footprint f{kernel, "operand lse", "sizes and strides that overflow 64 bits"};
  int64_t needBytes = f.mul(f.mul(f.mul(d.batch, d.heads), d.tq), 4);
  return bufferOperand(ctx, spec.Get("lse"), kernel, "lse", needBytes);
}

exec::KernelCall launchAttentionFwd(LaunchContext& ctx, const Napi::Object& spec) {
  const std::string kernel = "attention_fwd";
  AttentionFwdArgs a;
  a.dtype = dtypeProp(spec, kernel, "dtype");
  Dims d = readDims(spec, kernel);
  a.scale = readScale(spec, kernel);
  View q = readView(ctx, spec, kernel, "q", d, d.tq, a.dtype);
  View k = readView(ctx, spec, kernel, "k", d, d.tk, a.dtype);
  View v = readView(ctx, spec, kernel, "v", d, d.tk, a.dtype);
  View o = readView(ctx, spec, kernel, "o", d, d.tq, a.dtype);
  Operand lse = readLse(ctx, spec, kernel, d);
  requireNoSelfOverlap(o, d, kernel);
  requireOffInputs(o, {&q, &k, &v}, lse, kernel);
  for (const View* in : {&q, &k, &v}) {
    if (overlaps(in->buffer, lse)) overlapError(kernel, "output lse shares a buffer with an input",
                                                "distinct buffers", overlapText(lse, in->buffer));
  }
  a.batch = d.batch, a.heads = d.heads, a.tq = d.tq, a.tk = d.tk, a.headDim = d.headDim;
  size_t elem = dtypeSize(a.dtype);
  auto at = [elem](const View& x) {
    return static_cast<char*>(x.buffer.address) + x.offset * static_cast<int64_t>(elem);
  };
  a.q = at(q), a.qStrides = q.strides;
  a.k = at(k), a.kStrides = k.strides;
  a.v = at(v), a.vStrides = v.strides;
  a.o = at(o), a.oStrides = o.strides;
  a.lse = static_cast<float*>(lse.address);
  return [a](exec::RunContext& run) { run.kernels().attentionFwd(run.stream(), a); };
}

exec::KernelCall launchAttentionBwd(LaunchContext& ctx, const Napi::Object& spec) {
  const std::string kernel = "attention_bwd";
  AttentionBwdArgs a;
  a.dtype = dtypeProp(spec, kernel, "dtype");
  Dims d = readDims(spec, kernel);
  a.scale = readScale(spec, kernel);
  View q = readView(ctx, spec, kernel, "q", d, d.tq, a.dtype);
  View k = readView(ctx, spec, kernel, "k", d, d.tk, a.dtype);
  View v = readView(ctx, spec, kernel, "v", d, d.tk, a.dtype);
  View o = readView(ctx, spec, kernel, "o", d, d.tq, a.dtype);
  View dO = readView(ctx, spec, kernel, "dO", d, d.tq, a.dtype);
  Operand lse = readLse(ctx, spec, kernel, d);
  View dQ = readView(ctx, spec, kernel, "dQ", d, d.tq, a.dtype);
  View dK = readView(ctx, spec, kernel, "dK", d, d.tk, a.dtype);
  View dV = readView(ctx, spec, kernel, "dV", d, d.tk, a.dtype);
  for (const View* out : {&dQ, &dK, &dV}) {
    requireNoSelfOverlap(*out, d, kernel);
    requireOffInputs(*out, {&q, &k, &v, &o, &dO}, lse, kernel);
  }
  size_t elem = dtypeSize(a.dtype);
  requireDisjointOutputs(dQ, dK, elem, kernel);
  requireDisjointOutputs(dQ, dV, elem, kernel);
  requireDisjointOutputs(dK, dV, elem, kernel);
  a.batch = d.batch, a.heads = d.heads, a.tq = d.tq, a.tk = d.tk, a.headDim = d.headDim;
  auto at = [elem](const View& x) {
    return static_cast<char*>(x.buffer.address) + x.offset * static_cast<int64_t>(elem);
  };
  a.q = at(q), a.qStrides = q.strides;
  a.k = at(k), a.kStrides = k.strides;
  a.v = at(v), a.vStrides = v.strides;
  a.o = at(o), a.oStrides = o.strides;
  a.dO = at(dO), a.dOStrides = dO.strides;
  a.lse = static_cast<const float*>(lse.address);
  a.dQ = at(dQ), a.dQStrides = dQ.strides;
  a.dK = at(dK), a.dKStrides = dK.strides;
  a.dV = at(dV), a.dVStrides = dV.strides;
  return [a](exec::RunContext& run) { run.kernels().attentionBwd(run.stream(), a); };
}

// spec: { dtype, batch, heads, tq, tk, headDim, scale, q, k: views, out: f32 [2] buffer }.
exec::KernelCall launchAttentionStats(LaunchContext& ctx, const Napi::Object& spec) {
  const std::string kernel = "attention_stats";
  AttentionStatsArgs a;
  a.dtype = dtypeProp(spec, kernel, "dtype");
  Dims d = readDims(spec, kernel);
  a.scale = readScale(spec, kernel);
  View q = readView(ctx, spec, kernel, "q", d, d.tq, a.dtype);
  View k = readView(ctx, spec, kernel, "k", d, d.tk, a.dtype);
  Operand out = bufferProp(ctx, spec, kernel.c_str(), "out", {2, DType::F32});
  for (const View* in : {&q, &k}) {
    if (overlaps(in->buffer, out)) overlapError(kernel, "output out shares a buffer with an input",
                                                "distinct buffers", overlapText(out, in->buffer));
  }
  a.batch = d.batch, a.heads = d.heads, a.tq = d.tq, a.tk = d.tk, a.headDim = d.headDim;
  size_t elem = dtypeSize(a.dtype);
  a.q = static_cast<char*>(q.buffer.address) + q.offset * static_cast<int64_t>(elem), a.qStrides = q.strides;
  a.k = static_cast<char*>(k.buffer.address) + k.offset * static_cast<int64_t>(elem), a.kStrides = k.strides;
  a.out = static_cast<float*>(out.address);
  return [a](exec::RunContext& run) { run.kernels().attentionStats(run.stream(), a); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("attention_stats", launchAttentionStats);
VIT_REGISTER_KERNEL_LAUNCHER("attention_fwd", launchAttentionFwd);
VIT_REGISTER_KERNEL_LAUNCHER("attention_bwd", launchAttentionBwd);

}  // namespace vit::addon
