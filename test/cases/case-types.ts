/**
 * The contract of a kernel's case file, test/cases/<kernel>.ts (one per kernel of the table, named
 * after the kernel's launch name: gelu_fwd -> test/cases/gelu_fwd.ts). Two runners read these files:
 *   - test/kernels/table.test.ts (jest): every case on the CPU device against its float64 reference;
 *   - dist/kernel-checks.cjs (plain JS, bundled by tsup from test/cases/gpu-runner.ts): every case on
 *     the CUDA device against the CPU device, outputs poisoned, on a machine without node_modules.
 * Both enumerate the kernel table (`device.native.kernels()`) and fail, naming the kernel, when a
 * kernel has no case file or no cases.
 *
 * A case file imports only from this file, test/cases/case-kit.ts, the modules of
 * test/cases/shared/ (what several case files share: a forward's reference its backward checks
 * against, layouts, shapes; neither runner lists that folder) and the pure float64
 * test/helpers/*-reference.ts files (so it bundles into dist/ without jest or node_modules), and
 * default-exports a KernelCases.
 */

/** Storage types a case buffer may have (u32 words travel in i32 buffers, as philox's do). */
export type CaseDType = 'f32' | 'bf16' | 'i32';

export type BufferRole = 'in' | 'out' | 'inout';

export interface CaseBuffer {
  dtype: CaseDType;
  /** Elements of the buffer (the whole allocation: strided operands include their gaps). */
  size: number;
  role: BufferRole;
  /**
   * Initial contents for 'in' and 'inout' (random, from a seed: never all zeros). bf16 buffers take
   * f32 values and are rounded on upload; the reference sees the rounded values. 'out' buffers
   * have no data: the runner fills them with poison (f32 NaN, bf16 0xffff, i32 0xdeadbeef), so an
   * element the kernel forgets to write, or writes where it must not, shows up.
   */
  data?: ArrayLike<number>;
}

/** |actual - expected| <= abs + rel * |expected|, elementwise; NaN matches NaN only. */
export interface Tolerance {
  abs: number;
  rel: number;
}

/** One tolerance for every output, or one per output buffer name (missing names: exact). */
export type Tolerances = Tolerance | Record<string, Tolerance>;

export interface KernelCase {
  /** Unique within the kernel: says dtype, shape and layout, e.g. 'bf16 7x13 strided x'. */
  name: string;
  /** Coverage keys, counted by the runner: the storage type and the layout this case exercises. */
  dtype: string;
  layout: string;
  buffers: Record<string, CaseBuffer>;
  /**
   * The launch spec, given each buffer's handle by name (the runner passes BufferHandles; nested
   * places such as attention views { buffer, offset, ... } or adamw_multi's tensors list are built
   * here). Must be deterministic: the GPU runner calls it once per device.
   */
  spec(buffers: Record<string, unknown>): Record<string, unknown>;
  /**
   * The float64 reference, written independently of the kernel (naive loops). It receives the
   * initial contents of every buffer as the kernel sees them (bf16 rounded, outputs poisoned: NaN
   * for f32 / bf16, -559038737 for i32) and returns the expected final contents of every 'out' and
   * 'inout' buffer, whole (elements a kernel must not touch keep their initial value, poison
   * included).
   */
  reference(initial: Record<string, Float64Array>): Record<string, ArrayLike<number>>;
  /** CPU against the float64 reference. */
  tolerance: Tolerances;
  /** CUDA against the CPU (default: `tolerance`). Bitwise kernels say { abs: 0, rel: 0 }. */
  gpuTolerance?: Tolerances;
  /**
   * For a backward kernel: a finite-difference check of this case's reference against the forward
   * reference, so the chain kernel ~ reference ~ d(forward) is closed. The runner draws a random
   * direction v for each `wrt` input, and checks
   *   sum_o <cotangent_o, (F(x + h v) - F(x - h v)) / 2h>  ~  sum_w <grad_w, v_w>
   * with F = `forward` (float64), the cotangents and grads read from this case's buffers and the
   * reference's outputs, within `tolerance` (relative to the larger side, plus abs).
   */
  gradient?: {
    /** The forward in float64: from the inputs named in `wrt` (and any others it reads) to outputs. */
    forward(inputs: Record<string, Float64Array>): Record<string, ArrayLike<number>>;
    /** Buffers of this case that are inputs of the forward and are differentiated (e.g. ['x']). */
    wrt: string[];
    /** Forward output name -> this case's buffer holding its cotangent (e.g. { y: 'dy' }). */
    cotangents: Record<string, string>;
    /** wrt input name -> this case's output buffer holding its gradient (e.g. { x: 'dx' }). */
    grads: Record<string, string>;
    /** Elements of a wrt input the direction may touch (default: all); strided gaps excluded. */
    mask?: Record<string, (index: number) => boolean>;
    step?: number; // default 1e-4
    tolerance?: Tolerance; // default { abs: 1e-7, rel: 1e-5 }
  };
}

/**
 * A case of a collective kernel on a whole mesh (lib/runtime/mesh.ts): every rank gets buffers of the
 * same names and sizes with its own random data, the kernel is launched on every rank at once
 * (Mesh.launch), and the reference sees every rank's initial buffers (float64) and returns every
 * rank's expected outputs. Only the jest runner runs these (on the CPU: test/kernels/table.test.ts);
 * the GPU runner skips them, saying so, because CUDA virtual-device collectives are not implemented.
 */
export interface MeshKernelCase {
  name: string;
  dtype: string;
  layout: string;
  mesh: { data: number; model: number };
  /** Rank r's buffers (rank order): 'in'/'inout' with data, 'out' poisoned, as in KernelCase. */
  buffers: Record<string, CaseBuffer>[];
  /** Rank r's launch spec, given its buffers' handles by name. */
  spec(buffers: Record<string, unknown>, rank: number): Record<string, unknown>;
  /** The float64 reference of the whole mesh: initial[rank] -> expected outputs of every rank. */
  reference(initial: Record<string, Float64Array>[]): Record<string, ArrayLike<number>>[];
  tolerance: Tolerances;
}

export interface KernelCases {
  /** The kernel's launch name (device.native.kernels()). */
  kernel: string;
  /** Single-device cases (every kernel needs some; for a collective: ranks 1, outside a mesh). */
  cases: KernelCase[];
  /** Mesh cases, for the collective kernels (MeshKernelCase). */
  meshCases?: MeshKernelCase[];
}
