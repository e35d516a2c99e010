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

#include "core/status.h"
#include "kernels.h"

namespace vit::cuda {

void axpby(Stream stream, const AxpbyArgs& args) {
  // Copied into the closure: the caller's struct dies when this returns, as a kernel's arguments
  // are copied at launch.
  auto* work = new AxpbyArgs(args);
  const cudaError_t st = cudaLaunchHostFunc(
      static_cast<cudaStream_t>(stream.handle),
      [](void* p) {
        auto* a = static_cast<AxpbyArgs*>(p);
        vit::cpu::axpby(Stream{}, *a);
        delete a;
      },
      work);
  if (st != cudaSuccess) {
    delete work;
    throw Error(ErrorCode::CudaError, "axpby (fake launch) failed", "cudaSuccess",
                cudaGetErrorName(st));
  }
}

void stridedCopy(Stream stream, const StridedCopyArgs& args) {
  auto* work = new StridedCopyArgs(args);
  const cudaError_t st = cudaLaunchHostFunc(
      static_cast<cudaStream_t>(stream.handle),
      [](void* p) {
        auto* a = static_cast<StridedCopyArgs*>(p);
        vit::cpu::stridedCopy(Stream{}, *a);
        delete a;
      },
      work);
  if (st != cudaSuccess) {
    delete work;
    throw Error(ErrorCode::CudaError, "strided_copy (fake launch) failed", "cudaSuccess",
                cudaGetErrorName(st));
  }
}

bool isStickyError(cudaError_t) { return false; }

}  // namespace vit::cuda
