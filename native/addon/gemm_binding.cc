#include "addon/gemm_binding.h"

#include <string>

#include "addon/args.h"
#include "addon/kernel_launchers.h"
#include "addon/operand_checks.h"
#include "core/status.h"

namespace vit::addon {

namespace {

// A strided-batched matrix operand: `rows` x `cols` stored with leading dimension `ld`, batches
// `stride` elements apart. Checks ld and returns the bytes its last element ends at.
struct MatrixOperand {
  const char* name;
  int64_t rows, cols, ld, stride;
};

int64_t footprintBytes(const MatrixOperand& op, int64_t batch, DType type) {
  if (op.ld < op.cols) {
    throw Error(ErrorCode::InvalidArgument,
                std::string("gemm ld") + op.name + " is smaller than the row length of " + op.name,
                "ld" + std::string(op.name) + " >= " + std::to_string(op.cols),
                std::to_string(op.ld));
  }
  if (batch == 0 || op.rows == 0 || op.cols == 0) return 0;
  const Footprint f{"gemm", std::string("operand ") + op.name,
                    std::to_string(batch) + " x [" + std::to_string(op.rows) + ", ld " +
                        std::to_string(op.ld) + "], stride " + std::to_string(op.stride)};
  int64_t last = f.add(f.add(f.mul(batch - 1, op.stride), f.mul(op.rows - 1, op.ld)), op.cols);
  return f.mul(last, static_cast<int64_t>(dtypeSize(type)));
}

// The optional biasType: 'f32' | 'bf16', absent = cType (the old rule, bias of C's dtype). f32 is
// allowed with either C (bf16-mixed training's f32 master biases on bf16 activations); a bf16 bias
// with an f32 C is not. Checked even when there is no bias, so a bad spec never passes silently.
DType biasTypeProp(const Napi::Object& spec, DType cType) {
  if (!hasProp(spec, "biasType")) return cType;
  std::string name = stringProp(spec, "biasType");
  if (name != "f32" && name != "bf16") {
    throw Error(ErrorCode::InvalidArgument, "gemm biasType must be 'f32' or 'bf16'", "f32 | bf16",
                name);
  }
  DType t = parseDType(name);
  if (t != DType::F32 && t != cType) {
    throw Error(ErrorCode::InvalidArgument, "gemm biasType must be f32 or C's dtype",
                cType == DType::F32 ? "f32" : std::string("f32 | ") + dtypeName(cType), name);
  }
  return t;
}

}  // namespace

GemmArgs gemmArgsFromSpec(LaunchContext& ctx, const Napi::Object& spec) {
  GemmArgs g;
  g.abType = dtypeProp(spec, "gemm", "abType");
  g.cType = dtypeProp(spec, "gemm", "cType");
  g.transA = boolProp(spec, "transA");
  g.transB = boolProp(spec, "transB");
  g.m = countProp(spec, "m");
  g.n = countProp(spec, "n");
  g.k = countProp(spec, "k");
  g.batch = countProp(spec, "batch");
  g.alpha = static_cast<float>(numberProp(spec, "alpha"));
  g.beta = static_cast<float>(numberProp(spec, "beta"));
  g.lda = countProp(spec, "lda");
  g.ldb = countProp(spec, "ldb");
  g.ldc = countProp(spec, "ldc");
  g.strideA = countProp(spec, "strideA");
  g.strideB = countProp(spec, "strideB");
  g.strideC = countProp(spec, "strideC");

  // Stored shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k]; C is [m, n].
  MatrixOperand a{"A", g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.lda, g.strideA};
  MatrixOperand b{"B", g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.ldb, g.strideB};
  MatrixOperand c{"C", g.m, g.n, g.ldc, g.strideC};
  int64_t needA = footprintBytes(a, g.batch, g.abType);
  int64_t needB = footprintBytes(b, g.batch, g.abType);
  int64_t needC = footprintBytes(c, g.batch, g.cType);
  // Each C element must belong to one batch, or the result would depend on thread timing.
  int64_t cSpan = g.m == 0 || g.n == 0 ? 0 : (g.m - 1) * g.ldc + g.n;
  if (g.batch > 1 && g.strideC < cSpan) {
    throw Error(ErrorCode::InvalidArgument, "gemm strideC makes batches of C overlap",
                "strideC >= " + std::to_string(cSpan), std::to_string(g.strideC));
  }

  Operand bufA = bufferProp(ctx, spec, "gemm", "a", needA);
  Operand bufB = bufferProp(ctx, spec, "gemm", "b", needB);
  Operand bufC = bufferProp(ctx, spec, "gemm", "c", needC);
  g.biasType = biasTypeProp(spec, g.cType);
  Operand bufBias = optionalBufferProp(ctx, spec, "gemm", "bias",
                                       g.n * static_cast<int64_t>(dtypeSize(g.biasType)));
  if (bufBias) g.epilogue = GemmEpilogue::Bias;
  // Optional fused GELU on a column range after the bias: { geluForm, geluBegin, geluEnd }.
  if (!spec.Get("geluForm").IsUndefined()) {
    std::string form = stringProp(spec, "geluForm");
    if (form != "tanh" && form != "erf") {
      throw Error(ErrorCode::InvalidArgument, "gemm geluForm must be 'tanh' or 'erf'", "tanh | erf",
                  form);
    }
    g.geluForm = form == "tanh" ? GeluForm::Tanh : GeluForm::Erf;
    g.colBegin = countProp(spec, "geluBegin");
    g.colEnd = countProp(spec, "geluEnd");
    if (g.colBegin > g.colEnd || g.colEnd > g.n) {
      throw Error(ErrorCode::InvalidArgument, "gemm GELU column range is out of bounds",
                  "0 <= geluBegin <= geluEnd <= " + std::to_string(g.n),
                  "[" + std::to_string(g.colBegin) + ", " + std::to_string(g.colEnd) + ")");
    }
    g.epilogue = GemmEpilogue::BiasGeluColumns;
  }
  requireDistinct("gemm", "C", bufC, {bufA, bufB, bufBias}, "C distinct from A, B and bias");
  g.a = bufA.address;
  g.b = bufB.address;
  g.c = bufC.address;
  g.bias = bufBias.address;
  return g;
}

}  // namespace vit::addon

namespace vit::addon {

namespace {

exec::KernelCall launchGemm(LaunchContext& ctx, const Napi::Object& spec) {
  GemmArgs g = gemmArgsFromSpec(ctx, spec);
  return [g](exec::RunContext& run) { run.kernels().gemm(run.stream(), g); };
}

}  // namespace

VIT_REGISTER_KERNEL_LAUNCHER("gemm", launchGemm);

}  // namespace vit::addon
