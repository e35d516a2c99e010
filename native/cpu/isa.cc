#include "cpu/isa.h"

#include <cstdlib>
#include <string>

#include "core/status.h"
#include "cpu/cpu_features.h"

namespace vit::cpu {

namespace {

Isa detectedIsa() {
  const CpuFeatures& f = detectCpu();
  bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.fma;
  if (avx512 && f.avx512bf16) return Isa::Avx512Bf16;
  if (avx512) return Isa::Avx512;
  if (f.avx2 && f.fma) return Isa::Avx2;
  return Isa::Scalar;
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Bf16: return "avx512bf16";
  }
  return "?";
}

Isa activeIsa() {
  static const Isa detected = detectedIsa();
  const char* env = std::getenv("VIT22B_CPU_ISA");
  if (!env || !*env) return detected;
  for (Isa cap : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16}) {
    if (std::string(env) == isaName(cap)) return cap < detected ? cap : detected;
  }
  throw Error(ErrorCode::InvalidArgument, std::string("unknown VIT22B_CPU_ISA value '") + env + "'",
              "scalar | avx2 | avx512 | avx512bf16", env);
}

}  // namespace vit::cpu
