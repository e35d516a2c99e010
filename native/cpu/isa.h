// The SIMD level the CPU kernels dispatch on. The binaries are built for baseline x86-64; only
// files compiled with their own ISA flags (gemm_avx2.cc, gemm_avx512*.cc) use wider instructions,
// and only after this says the CPU and OS support them.
#pragma once

namespace vit::cpu {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Avx512Bf16 = 3 };

// The best level the CPU supports, capped by VIT22B_CPU_ISA (scalar | avx2 | avx512 |
// avx512bf16) when set, so tests and benchmarks can exercise every path on one machine. A cap above
// what the CPU has is ignored; an unknown value throws ERR_INVALID_ARGUMENT. Read per call (it is
// one getenv), so it is never stale.
Isa activeIsa();
const char* isaName(Isa isa);

}  // namespace vit::cpu
