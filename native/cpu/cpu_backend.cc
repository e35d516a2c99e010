#include "cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "core/status.h"
#include "cpu/cpu_features.h"

namespace vit::cpu {

CpuBackend::CpuBackend(int threads) {
  if (threads > 0) pool_ = std::make_unique<ThreadPool>(threads);
}

std::string CpuBackend::describe() const { return "cpu (" + detectCpu().model + ")"; }

void* CpuBackend::allocate(size_t bytes) {
  constexpr size_t kAlign = 64;
  // aligned_alloc wants a multiple of the alignment, and a zero-byte buffer still gets an address.
  size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
  void* ptr = std::aligned_alloc(kAlign, rounded);
  if (!ptr) {
    throw Error(ErrorCode::HostOom, "host allocation of " + std::to_string(bytes) + " bytes failed",
                std::to_string(bytes) + " bytes of free host memory", "allocation failure");
  }
  return ptr;
}

void CpuBackend::release(void* ptr) noexcept { std::free(ptr); }

void CpuBackend::upload(void* deviceDst, const void* hostSrc, size_t bytes) {
  std::memcpy(deviceDst, hostSrc, bytes);
}

void CpuBackend::download(void* hostDst, const void* deviceSrc, size_t bytes) {
  std::memcpy(hostDst, deviceSrc, bytes);
}

std::unique_ptr<PlanRuntime> CpuBackend::createPlanRuntime(size_t, size_t, size_t scalars) {
  if (!emulate_) return nullptr;
  return std::make_unique<EmulatedPlanRuntime>(stream(), scalars);
}

}  // namespace vit::cpu
