// AdamW on the GPU (lib/kernels/records.ts AdamwHyper; native/cpu/adamw.cc is the reference): one tensor
// (adamw) or every tensor of a step in ONE launch (adamw_multi).
//
// Arithmetic: the per-step constants come from the CPU's own function (core/adamw_constants.h,
// double, on the host), and the element update uses _rn intrinsics (no FMA contraction, IEEE sqrt
// and division) in the CPU's order of operations, so an element gets the CPU baseline's bits.
//
// adamw_multi: the flattened elements of all tensors are cut into chunks of kChunk elements that
// never straddle tensors; block b takes chunks b, b + grid, ... and finds each chunk's tensor by a
// binary search over the tensors' first-chunk indices in a device-side descriptor table.
//
// The descriptor table. AdamwMultiArgs::tensors is host memory that is only valid during the call,
// so the table must be in device memory before the kernel reads it. Re-uploading it every call
// through one reused device buffer would be wrong twice over: the host array may be gone before an
// asynchronous copy reads it, and a CUDA graph that captured the copy would re-read a host buffer
// that later calls overwrite. Instead the tables are cached BY CONTENT (device ordinal + the exact
// bytes of the descriptor table): a training step calls adamw_multi with the same tensors every
// step, so after the first step a call is a hash lookup and a launch, with no copy and no
// allocation. On a miss (a new set of tensors) the table is uploaded once, synchronously, through
// a private non-blocking upload stream (cudaMemcpyAsync + cudaStreamSynchronize on that stream):
// the copy is complete before the call returns, so the caller's host array may die right after,
// and the entry is never written again, so any stream, and any graph that captured a launch
// reading it, sees the same bytes forever. A miss inside a graph capture still works: the
// cudaMalloc and the upload run in relaxed capture mode on a stream that is not being captured.
// At most kMaxEntries tables are kept: beyond that the least recently used entry that no captured
// graph references is freed, after its last launch has completed (an event recorded per launch).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/adamw_constants.h"
#include "core/status.h"
#include "cuda/launch_check.h"
#include "cuda/reduce_helpers.cuh"
#include "cuda/stream_scratch.h"
#include "kernels.h"

namespace vit::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 8;
constexpr int64_t kChunk = kThreads * kPerThread;  // elements per chunk (one block iteration)

// The per-step constants: core/adamw_constants.h, shared with the CPU kernels.
using Constants = AdamwConstants;

// One tensor as the kernels see it. Plain data without padding: its bytes are the cache key.
struct Desc {
  float* param;
  const void* grad;
  float* m;
  float* v;
  int64_t n;
  int64_t firstChunk;  // index of the tensor's first chunk in the flattened chunk space
  int32_t gradBf16;    // 1: grad is bf16, 0: f32
  int32_t vec4;        // 1: param, m, v 16-byte aligned and grad 16 (f32) / 8 (bf16) byte aligned
};

static_assert(sizeof(Desc) == 56, "Desc must have no padding bytes: they would be part of the cache key");
static_assert(kPerThread % 4 == 0 && kChunk % 4 == 0, "chunks hold whole groups of four");

// The CPU's element update on values, rounding step by step (g, m, v, denominator, decay, step).
__device__ __forceinline__ void adamwMath(const Constants& c, float gradValue, float& p, float& m, float& v) {
  const float g = __fmul_rn(c.gradScale, gradValue);
  const float mi = __fadd_rn(__fmul_rn(c.beta1, m), __fmul_rn(c.oneMinusBeta1, g));
  const float vi = __fadd_rn(__fmul_rn(c.beta2, v), __fmul_rn(c.oneMinusBeta2, __fmul_rn(g, g)));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), c.sqrtBc2), c.eps);
  m = mi;
  v = vi;
  p = __fsub_rn(__fmul_rn(p, c.decayFactor), __fmul_rn(c.stepSize, __fdiv_rn(mi, denom)));
}

template <typename G>
__device__ __forceinline__ void updateElement(const Constants& c, const Desc& d, const G* grad, int64_t i) {
  float p = d.param[i], m = d.m[i], v = d.v[i];
  adamwMath(c, loadF32(grad, i), p, m, v);
  d.param[i] = p;
  d.m[i] = m;
  d.v[i] = v;
}

// Four consecutive gradients as f32: one 16-byte load (f32) or one 8-byte load (bf16).
__device__ __forceinline__ void loadGrad4(const float* g, int64_t i, float out[4]) {
  const float4 q = *reinterpret_cast<const float4*>(g + i);
  out[0] = q.x, out[1] = q.y, out[2] = q.z, out[3] = q.w;
}
__device__ __forceinline__ void loadGrad4(const uint16_t* g, int64_t i, float out[4]) {
  const uint2 q = *reinterpret_cast<const uint2*>(g + i);
  out[0] = bf16ToFloat(static_cast<uint16_t>(q.x & 0xffffu));  // little-endian: element i first
  out[1] = bf16ToFloat(static_cast<uint16_t>(q.x >> 16));
  out[2] = bf16ToFloat(static_cast<uint16_t>(q.y & 0xffffu));
  out[3] = bf16ToFloat(static_cast<uint16_t>(q.y >> 16));
}

// Elements [base, base + kChunk) of one tensor. With d.vec4 (every pointer aligned for 16-byte
// f32 / 8-byte bf16 vector access; base is a multiple of 4) each thread takes kPerThread / 4 groups
// of four consecutive elements with vector loads and stores, consecutive threads on consecutive
// groups; a group that runs past n falls back to scalar. Otherwise kPerThread scalar elements per
// thread, consecutive threads on consecutive elements. Either way each element is updated once,
// with the same arithmetic.
template <typename G>
__device__ __forceinline__ void updateChunk(const Constants& c, const Desc& d, int64_t base) {
  const G* grad = static_cast<const G*>(d.grad);
  if (d.vec4) {
#pragma unroll
    for (int e = 0; e < kPerThread / 4; ++e) {
      const int64_t i = base + 4 * (static_cast<int64_t>(e) * kThreads + threadIdx.x);
      if (i + 4 <= d.n) {
        float g[4];
        loadGrad4(grad, i, g);
        float4 p = *reinterpret_cast<const float4*>(d.param + i);
        float4 m = *reinterpret_cast<const float4*>(d.m + i);
        float4 v = *reinterpret_cast<const float4*>(d.v + i);
        adamwMath(c, g[0], p.x, m.x, v.x);
        adamwMath(c, g[1], p.y, m.y, v.y);
        adamwMath(c, g[2], p.z, m.z, v.z);
        adamwMath(c, g[3], p.w, m.w, v.w);
        *reinterpret_cast<float4*>(d.param + i) = p;
        *reinterpret_cast<float4*>(d.m + i) = m;
        *reinterpret_cast<float4*>(d.v + i) = v;
      } else {
        for (int64_t q = i; q < d.n && q < i + 4; ++q) updateElement(c, d, grad, q);
      }
    }
  } else {
#pragma unroll
    for (int e = 0; e < kPerThread; ++e) {
      const int64_t i = base + e * kThreads + threadIdx.x;
      if (i < d.n) updateElement(c, d, grad, i);
    }
  }
}

__device__ __forceinline__ void updateChunkOf(const Constants& c, const Desc& d, int64_t base) {
  if (d.gradBf16) {
    updateChunk<uint16_t>(c, d, base);
  } else {
    updateChunk<float>(c, d, base);
  }
}

// One tensor, its descriptor passed by value (no table).
__global__ void __launch_bounds__(kThreads)
    adamwOneKernel(Constants host, const Constants* __restrict__ dev, Desc d, int64_t chunks) {
  const Constants c = dev ? *dev : host;
  for (int64_t chunk = blockIdx.x; chunk < chunks; chunk += gridDim.x) updateChunkOf(c, d, chunk * kChunk);
}

// Every tensor of table[0 .. count) (non-empty, in increasing firstChunk order).
__global__ void __launch_bounds__(kThreads)
    adamwMultiKernel(Constants host, const Constants* __restrict__ dev, const Desc* __restrict__ table,
                     int count, int64_t totalChunks) {
  const Constants c = dev ? *dev : host;
  for (int64_t chunk = blockIdx.x; chunk < totalChunks; chunk += gridDim.x) {
    // The last tensor whose first chunk is <= chunk (the same search in every thread: broadcast
    // loads of a table that stays in L1/L2).
    int lo = 0, hi = count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (table[mid].firstChunk <= chunk) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const Desc d = table[lo];
    updateChunkOf(c, d, (chunk - d.firstChunk) * kChunk);
  }
}

// ---- the descriptor-table cache (see the top of the file) -------------------------------------

constexpr size_t kMaxEntries = 64;

struct Entry {
  Desc* device = nullptr;
  cudaEvent_t lastUse = nullptr;  // recorded after each launch that was not captured
  bool captured = false;          // a graph may replay a launch that reads it: never freed
  uint64_t tick = 0;              // last use, for LRU
};

struct TableCache {
  std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;
  std::unordered_map<int, cudaStream_t> uploadStreams;  // per device ordinal
  uint64_t tick = 0;
};

TableCache& tableCache() {
  static auto* cache = new TableCache();  // never destroyed: freeing at exit could race the driver
  return *cache;
}

void evictOne(TableCache& cache) {
  auto victim = cache.entries.end();
  for (auto it = cache.entries.begin(); it != cache.entries.end(); ++it) {
    if (it->second.captured) continue;
    if (victim == cache.entries.end() || it->second.tick < victim->second.tick) victim = it;
  }
  if (victim == cache.entries.end()) return;  // every entry is referenced by a graph: keep them
  RelaxedCaptureScope relaxed;
  checkCuda(cudaEventSynchronize(victim->second.lastUse), "cudaEventSynchronize (adamw table)");
  checkCuda(cudaEventDestroy(victim->second.lastUse), "cudaEventDestroy (adamw table)");
  checkCuda(cudaFree(victim->second.device), "cudaFree (adamw table)");
  cache.entries.erase(victim);
}

// The device copy of `descs` (cached), launched with under the cache's lock so that no other
// thread can evict it between the lookup and the launch.
template <typename Launch>
void withDeviceTable(cudaStream_t stream, const std::vector<Desc>& descs, const Launch& launch) {
  int device = 0;
  checkCuda(cudaGetDevice(&device), "cudaGetDevice");
  const size_t bytes = descs.size() * sizeof(Desc);
  std::string key(sizeof(int) + bytes, '\0');
  std::memcpy(key.data(), &device, sizeof(int));
  std::memcpy(key.data() + sizeof(int), descs.data(), bytes);

  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  checkCuda(cudaStreamIsCapturing(stream, &capture), "cudaStreamIsCapturing");
  const bool capturing = capture != cudaStreamCaptureStatusNone;

  TableCache& cache = tableCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto it = cache.entries.find(key);
  if (it == cache.entries.end()) {
    if (!capturing && cache.entries.size() >= kMaxEntries) evictOne(cache);
    RelaxedCaptureScope relaxed;
    cudaStream_t& upload = cache.uploadStreams[device];
    if (!upload) {
      checkCuda(cudaStreamCreateWithFlags(&upload, cudaStreamNonBlocking), "cudaStreamCreate (adamw table)");
    }
    Entry e;
    checkCuda(cudaMalloc(&e.device, bytes), "cudaMalloc (adamw table)");
    cudaError_t st = cudaMemcpyAsync(e.device, descs.data(), bytes, cudaMemcpyHostToDevice, upload);
    if (st == cudaSuccess) st = cudaStreamSynchronize(upload);
    if (st == cudaSuccess) st = cudaEventCreateWithFlags(&e.lastUse, cudaEventDisableTiming);
    if (st != cudaSuccess) {
      cudaFree(e.device);
      checkCuda(st, "upload of the adamw_multi tensor table");
    }
    it = cache.entries.emplace(std::move(key), e).first;
  }
  Entry& e = it->second;
  e.tick = ++cache.tick;
  launch(e.device);
  if (capturing) {
    e.captured = true;
  } else {
    checkCuda(cudaEventRecord(e.lastUse, stream), "cudaEventRecord (adamw table)");
  }
}

void checkHyper(const AdamwHyper& h) {
  // A device-resident step (stepPtr) was range-checked by the executor before the run.
  if (!h.stepPtr && h.step < 1) {
    throw Error(ErrorCode::InvalidArgument, "adamw step counts from 1", "step >= 1",
                std::to_string(h.step));
  }
}

void checkGradType(DType t) {
  if (t != DType::F32 && t != DType::BF16) {
    throw Error(ErrorCode::DtypeMismatch, "adamw gradients must be f32 or bf16", "f32 or bf16",
                dtypeName(t));
  }
}

Desc descOf(const AdamwTensor& t, int64_t firstChunk) {
  Desc d;
  std::memset(&d, 0, sizeof d);
  d.param = t.param;
  d.grad = t.grad;
  d.m = t.m;
  d.v = t.v;
  d.n = t.n;
  d.firstChunk = firstChunk;
  d.gradBf16 = t.gradType == DType::BF16 ? 1 : 0;
  auto aligned = [](const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; };
  d.vec4 = aligned(t.param, 16) && aligned(t.m, 16) && aligned(t.v, 16) &&
                   aligned(t.grad, d.gradBf16 ? 8 : 16)
               ? 1
               : 0;
  return d;
}

// The dynamic fields of kernels.h ("Dynamic scalar fields"): when the executor hands lr, step,
// weight decay or the clip factor over as device addresses (a step replayed as a CUDA graph), the
// constants are computed on the device by one thread (core/adamw_constants.h, in double) into
// stream scratch that the update kernels then read. pow and sqrt in double on the device may differ
// from the host's in the last double ulp (core/adamw_constants.h).
__global__ void constantsKernel(AdamwHyper h, Constants* out) {
  if (h.stepPtr) h.step = *h.stepPtr;
  if (h.lrPtr) h.lr = *h.lrPtr;
  if (h.weightDecayPtr) h.weightDecay = *h.weightDecayPtr;
  if (h.gradScalePtr) h.gradScale = *h.gradScalePtr;
  *out = adamwConstants(h);
}

bool hasDynamicFields(const AdamwHyper& h) {
  return h.stepPtr || h.lrPtr || h.weightDecayPtr || h.gradScalePtr;
}

// nullptr when every field is a value (the kernels then use the host constants).
const Constants* deviceConstants(cudaStream_t stream, const AdamwHyper& h) {
  if (!hasDynamicFields(h)) return nullptr;
  auto* out = static_cast<Constants*>(streamScratch(stream, sizeof(Constants)));
  constantsKernel<<<1, 1, 0, stream>>>(h, out);
  checkLaunch("adamw constants");
  return out;
}

void launchOne(cudaStream_t stream, const AdamwHyper& h, const AdamwTensor& t) {
  const int64_t chunks = (t.n + kChunk - 1) / kChunk;
  const Constants* dev = deviceConstants(stream, h);
  adamwOneKernel<<<gridFor(chunks, 1), kThreads, 0, stream>>>(adamwConstants(h), dev, descOf(t, 0), chunks);
  checkLaunch("adamw");
}

}  // namespace

void adamw(Stream stream, const AdamwArgs& a) {
  checkHyper(a.hyper);
  checkGradType(a.tensor.gradType);
  if (a.tensor.n == 0) return;
  launchOne(static_cast<cudaStream_t>(stream.handle), a.hyper, a.tensor);
}

void adamwMulti(Stream stream, const AdamwMultiArgs& a) {
  checkHyper(a.hyper);
  auto s = static_cast<cudaStream_t>(stream.handle);
  // The descriptor table is cached by content (top of the file): from the second call on (and in
  // every captured graph) nothing is copied from the host.
  std::vector<Desc> descs;
  descs.reserve(static_cast<size_t>(a.count));
  int64_t chunks = 0;
  for (int64_t k = 0; k < a.count; ++k) {
    const AdamwTensor& t = a.tensors[k];
    checkGradType(t.gradType);
    if (t.n == 0) continue;  // no chunks: left out of the table
    descs.push_back(descOf(t, chunks));
    chunks += (t.n + kChunk - 1) / kChunk;
  }
  if (descs.empty()) return;
  if (descs.size() == 1) {  // one tensor needs no table
    for (int64_t k = 0; k < a.count; ++k) {
      if (a.tensors[k].n != 0) return launchOne(s, a.hyper, a.tensors[k]);
    }
  }
  if (descs.size() > 0x7fffffff) {
    throw Error(ErrorCode::InvalidArgument, "adamw_multi takes at most 2^31 - 1 tensors",
                "count < 2^31", std::to_string(descs.size()));
  }
  const Constants* dev = deviceConstants(s, a.hyper);
  withDeviceTable(s, descs, [&](const Desc* table) {
    adamwMultiKernel<<<gridFor(chunks, 1), kThreads, 0, s>>>(adamwConstants(a.hyper), dev, table,
                                                              static_cast<int>(descs.size()), chunks);
    checkLaunch("adamw_multi");
  });
}

}  // namespace vit::cuda
