// The project functions of the CUDA addon that the nccl backend and the CUDA collective kernels
// (native/cuda/{all_gather,reduce_scatter,all_reduce,collective_permute,axis_slice}.cu, compiled
// here as C++: they hold no device code) reach but whose real sources cannot build without a GPU
// toolchain, as stand-ins:
//   - vit::cuda::stridedCopy (native/cuda/strided_copy.cu, a kernel): enqueued like axpby, run by
//     the CPU backend's stridedCopy (the same contract: runs of cols elements);
//   - vit::cuda::axpby (native/cuda/axpby.cu, a kernel): enqueued on the emulated stream and run
//     there by the CPU backend's axpby (native/cpu/axpby.cc, linked in), which has the same contract
//     (f32 arithmetic, one rounding to bf16, beta == 0 never reads y, alphaPtr read when it runs);
//   - vit::cuda::isStickyError (native/cuda/cuda_backend.cc, which drags in the whole CUDA backend):
//     only reached by checkCuda on a failed CUDA call, which the scenarios never cause.
#include <cuda_runtime_api.h>

#include <string>

#include "core/status.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

// Enqueues CPU kernel `run` on the emulated stream, like a kernel launch: the arguments are copied
// at the call (the caller's struct dies when it returns) and read when the stream reaches them.
template <typename Args, void (*run)(Stream, const Args&)>
void launchOnStream(Stream stream, const Args& args, const char* name) {
  auto* work = new Args(args);
  const cudaError_t st = cudaLaunchHostFunc(
      static_cast<cudaStream_t>(stream.handle),
      [](void* p) {
        auto* a = static_cast<Args*>(p);
        run(Stream{}, *a);
        delete a;
      },
      work);
  if (st != cudaSuccess) {
    delete work;
    throw Error(ErrorCode::CudaError, std::string(name) + " (fake launch) failed", "cudaSuccess",
                cudaGetErrorName(st));
  }
}

}  // namespace

void axpby(Stream stream, const AxpbyArgs& args) {
  launchOnStream<AxpbyArgs, &vit::cpu::axpby>(stream, args, "axpby");
}

void stridedCopy(Stream stream, const StridedCopyArgs& args) {
  launchOnStream<StridedCopyArgs, &vit::cpu::stridedCopy>(stream, args, "strided_copy");
}

bool isStickyError(cudaError_t) { return false; }

}  // namespace vit::cuda
