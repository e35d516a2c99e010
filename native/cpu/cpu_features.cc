#include "cpu/cpu_features.h"

#include <sched.h>

#include <cstring>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace vit::cpu {

namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf = 0) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// XCR0 says which register files the OS saves on a context switch. Executed only after cpuid
// reports OSXSAVE, since xgetbv faults otherwise.
unsigned long long readXcr0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

void detectX86(CpuFeatures& f) {
  Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &v.ebx, 4);
  std::memcpy(vendor + 4, &v.edx, 4);
  std::memcpy(vendor + 8, &v.ecx, 4);
  f.vendor = vendor;
  unsigned maxLeaf = v.eax;

  unsigned maxExt = cpuid(0x80000000u).eax;
  if (maxExt >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      Regs r = cpuid(0x80000002u + i);
      std::memcpy(brand + 16 * i + 0, &r.eax, 4);
      std::memcpy(brand + 16 * i + 4, &r.ebx, 4);
      std::memcpy(brand + 16 * i + 8, &r.ecx, 4);
      std::memcpy(brand + 16 * i + 12, &r.edx, 4);
    }
    f.model = trim(brand);
  }

  Regs l1 = cpuid(1);
  bool osxsave = (l1.ecx >> 27) & 1;
  unsigned long long xcr0 = osxsave ? readXcr0() : 0;
  bool osAvx = (xcr0 & 0x6) == 0x6;            // XMM and YMM state
  bool osAvx512 = osAvx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM state

  f.fma = osAvx && ((l1.ecx >> 12) & 1);
  f.f16c = osAvx && ((l1.ecx >> 29) & 1);
  if (maxLeaf >= 7) {
    Regs l7 = cpuid(7, 0);
    f.avx2 = osAvx && ((l7.ebx >> 5) & 1);
    f.avx512f = osAvx512 && ((l7.ebx >> 16) & 1);
    f.avx512bw = osAvx512 && ((l7.ebx >> 30) & 1);
    f.avx512vl = osAvx512 && ((l7.ebx >> 31) & 1);
    if (l7.eax >= 1) {
      Regs l71 = cpuid(7, 1);
      f.avx512bf16 = osAvx512 && ((l71.eax >> 5) & 1);
    }
  }
}
#endif

int usableThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  detectX86(f);
#endif
  if (f.model.empty()) f.model = "unknown CPU";
  f.threads = usableThreads();
  return f;
}

}  // namespace

const CpuFeatures& detectCpu() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace vit::cpu
