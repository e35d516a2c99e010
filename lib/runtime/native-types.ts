/**
 * The raw surface of the native addons (native/addon). Only lib/runtime touches these; everything
 * else uses Device, DeviceTensor and LoadedPlan.
 */
import type { KernelName, KernelSpec } from '../kernels/spec';
import type { NativePlan } from './plan-format';

export interface NativeBuildInfo {
  variant: 'cpu' | 'cuda';
  napiVersion: number;
  compiler?: string;
  cudaRuntime?: number;
  cudaArchitectures?: string;
}

export interface NativeCpuInfo {
  vendor: string;
  model: string;
  threads: number;
  features: {
    avx2: boolean;
    fma: boolean;
    f16c: boolean;
    avx512f: boolean;
    avx512bw: boolean;
    avx512vl: boolean;
    avx512bf16: boolean;
  };
  /** The SIMD level the CPU kernels dispatch on (after any VIT22B_CPU_ISA cap). */
  kernelIsa: 'scalar' | 'avx2' | 'avx512' | 'avx512bf16';
  /** Threads of the CPU kernels' pool (VIT22B_NUM_THREADS, else the usable cores). */
  kernelThreads: number;
}

export interface NativeCudaDevice {
  index: number;
  name: string;
  memoryBytes: number;
  smCount: number;
  computeCapability: string;
  pciBusId: string;
}

export type CudaReasonCode =
  | ''
  | 'no-driver'
  | 'driver-too-old'
  | 'no-device'
  | 'unsupported-device'
  | 'error';

export interface NativeCudaProbe {
  usable: boolean;
  reasonCode: CudaReasonCode;
  reason: string;
  driverVersion: number;
  runtimeVersion: number;
  devices: NativeCudaDevice[];
}

export interface NativeVendorLoad {
  found: boolean;
  path?: string;
  version?: number;
  versionString?: string;
  attempts: { candidate: string; error: string }[];
}

export interface NativeBuffer {
  readonly bytes: number;
  readonly disposed: boolean;
  upload(source: ArrayBufferView | ArrayBuffer, offsetBytes?: number): void;
  download(target: ArrayBufferView | ArrayBuffer, offsetBytes?: number): void;
  dispose(): void;
}

export interface NativeDeviceStats {
  liveBuffers: number;
  liveBytes: number;
  reclaimedByGc: number;
  /** cuda devices only: cublasLtMatmulAlgoGetHeuristic calls so far (process-wide, all devices). */
  gemmHeuristicQueries?: number;
  /** cuda devices only: GEMM plans (descriptors + chosen algorithm) cached (process-wide). */
  gemmCachedPlans?: number;
  /**
   * The device allocator's figures, on backends with one of their own (CUDA's caching allocator,
   * native/cuda/caching_allocator.h); absent on the CPU. Bytes are rounded block sizes.
   */
  allocator?: NativeAllocatorStats;
}

export interface NativeAllocatorStats {
  /** In use by buffers, plan arenas and plan tables. */
  allocatedBytes: number;
  /** Freed blocks kept for reuse (returned to CUDA on an out-of-memory retry). */
  cachedBytes: number;
  peakAllocatedBytes: number;
  /** allocatedBytes + cachedBytes: what cudaMalloc handed out and was not freed. */
  reservedBytes: number;
  /** cudaMalloc calls so far: constant across training steps once warmed up. */
  cudaMallocCount: number;
  cudaFreeCount: number;
  cacheHits: number;
  /** Times the cache was emptied to retry a failed cudaMalloc. */
  cacheFlushes: number;
  liveBlocks: number;
  /** 0 with VIT22B_CUDA_CACHING=0 (every allocation a cudaMalloc, every release a cudaFree). */
  caching: number;
  /** Kernel scratch memory (native/cuda/stream_scratch.h), process-wide, grow-only. */
  scratchBytes: number;
  /** cudaMalloc calls of the kernel scratch: also constant once a training loop has warmed up. */
  scratchMallocCount: number;
}

/**
 * One strided-batched GEMM for DeviceHandle.launch('gemm', spec) (lib/kernels/gemm.ts GemmArgs):
 * C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (+ bias), row-major, leading dimensions and
 * batch strides in elements. The addon checks every field and each buffer's size.
 */
export interface NativeGemmSpec {
  abType: 'f32' | 'bf16';
  cType: 'f32' | 'bf16';
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  batch: number;
  alpha: number;
  beta: number;
  a: NativeBuffer;
  lda: number;
  strideA: number;
  b: NativeBuffer;
  ldb: number;
  strideB: number;
  c: NativeBuffer;
  ldc: number;
  strideC: number;
  /** [n] of biasType, added after alpha/beta. */
  bias?: NativeBuffer;
  /** The bias's dtype: absent = cType; 'f32' is allowed with a bf16 C (added in f32 before C is rounded). */
  biasType?: 'f32' | 'bf16';
  /** Turns on GELU (after the bias) over the columns [geluBegin, geluEnd) of C. */
  geluForm?: 'tanh' | 'erf';
  geluBegin?: number;
  geluEnd?: number;
}

/**
 * A loaded plan (native/addon/plan_handle.cc). run() is ONE asynchronous N-API call: it checks its
 * arguments on the JavaScript thread, copies the inputs, runs the whole step on a worker thread and
 * resolves with one ArrayBuffer per plan output. It never throws: every failure rejects.
 */
export interface NativePlanHandle {
  readonly arenaBytes: number;
  readonly disposed: boolean;
  /** Instructions over all streams. */
  readonly instructions: number;
  /**
   * How steps run: 'serial' (CPU), 'streams' (CUDA, direct launches on one CUDA stream per plan
   * stream), 'graphs' (CUDA, the step replayed from captured CUDA graphs), or
   * 'streams (graphs off: <why>)' after a capture failed. 'running' mid-step, 'disposed' after.
   */
  readonly execution: string;
  run(inputs: readonly (ArrayBufferView | ArrayBuffer)[], scalars?: readonly number[]): Promise<ArrayBuffer[]>;
  setProfiling(on: boolean): void;
  profile(): { runs: number; entries: { stream: number; index: number; ns: number; startNs: number; endNs: number }[] };
  dispose(): void;
}

export interface NativeDevice {
  readonly kind: 'cpu' | 'cuda';
  readonly name: string;
  alloc(bytes: number): NativeBuffer;
  synchronize(): void;
  /**
   * Runs one kernel by name; `spec` holds its buffers and scalars, as its declaration
   * (lib/kernels/<kernel>.ts) says. The addon checks the spec from the same declaration.
   */
  launch<K extends KernelName>(kernel: K, spec: KernelSpec<K, NativeBuffer>): void;
  /** The kernel names `launch` accepts. */
  kernels(): string[];
  /** Validates `plan`, allocates its arena and prepares its instructions; slots[i] is slot i + 1. */
  loadPlan(plan: NativePlan, slots: readonly NativeBuffer[]): NativePlanHandle;
  stats(): NativeDeviceStats;
  /** The most bytes live at once (buffers and plan arenas) since the device was opened. */
  peakLiveBytes(): number;
  dispose(): void;
}

/**
 * A mesh of virtual cpu devices (native/addon/mesh_handle.cc): the devices are ordinary DeviceHandles
 * whose kernels reach the mesh's communicators. run() is ONE asynchronous N-API call that runs every
 * rank's plan on threads of its own; launch() runs one kernel on every rank, synchronously.
 */
export interface NativeMesh {
  readonly size: number;
  /** The mesh rank of this process's first device (0 for a local mesh). */
  readonly rank: number;
  readonly backend: 'local' | 'mpi' | 'nccl';
  /** Every process's bytes, by mesh rank ('mpi' and 'nccl'; collective, synchronous, bounded by the timeout). */
  gatherBytes(bytes: ArrayBufferView): ArrayBuffer[];
  run(
    plans: readonly NativePlanHandle[],
    inputs: readonly (readonly (ArrayBufferView | ArrayBuffer)[])[],
    scalars?: readonly number[],
  ): Promise<ArrayBuffer[][]>;
  launch(kernel: string, specs: readonly object[]): void;
  dispose(): void;
}

export interface NativeAddon {
  build: NativeBuildInfo;
  setErrorClass(ctor: new (code: string, message: string, details: object) => Error): void;
  /** `threads` > 0: a cpu device with a thread pool of its own (absent or 0: the process pool). */
  DeviceHandle: new (kind: 'cpu' | 'cuda', ordinal: number, threads?: number) => NativeDevice;
  /** 'nccl' (the CUDA addon only) takes this process's mesh rank as `rank`. */
  MeshHandle: new (devices: readonly NativeDevice[], data: number, model: number, timeoutMs: number, backend?: 'local' | 'mpi' | 'nccl', rank?: number) => NativeMesh;
  /** Open MPI as this process sees it (opens nothing). */
  mpiStatus(): { opened: boolean; version: string; path: string; broken: boolean };
  /** Opens Open MPI (dlopen) and initialises MPI: ERR_LIBRARY_NOT_FOUND naming every place tried. */
  mpiOpen(): { rank: number; size: number; version: string; path: string };
  /** MPI_Finalize once (skipped after a timeout or a lost peer broke MPI). */
  mpiFinalize(): void;
  cpuInfo(): NativeCpuInfo;
  /** Calls from JavaScript into this addon so far (this call itself not counted). */
  napiCalls(): number;
  // The CUDA addon only:
  cudaProbe?(): NativeCudaProbe;
  loadCublasLt?(candidates: string[]): NativeVendorLoad;
  loadNccl?(candidates: string[]): NativeVendorLoad;
}
