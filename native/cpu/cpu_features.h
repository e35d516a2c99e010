// What the host CPU can do, read once with cpuid/xgetbv. The kernel library dispatches on these
// flags at run time (prebuilt binaries are compiled for baseline x86-64), and `vit22b info` prints them.
#pragma once

#include <string>

namespace vit::cpu {

struct CpuFeatures {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string model;   // brand string, e.g. "AMD EPYC 9654 96-Core Processor"
  int threads = 1;     // logical CPUs this process may run on (affinity mask, not the machine total)
  // Each flag is true only when the CPU has the instructions AND the OS saves their registers.
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512bf16 = false;
};

const CpuFeatures& detectCpu();

}  // namespace vit::cpu
