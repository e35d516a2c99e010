import { loadAddon, loadCpuCapableAddon } from './addon-loader';
import { cudaStatus } from './cuda-status';
import { assertDType, DTYPE_BYTES, type DType } from './dtype';
import { Vit22bError } from './errors';
import { requireTensor } from './ops/check';
import { gemmSpec, type GemmOptions } from './ops/gemm';
import type { NativeDevice, NativeDeviceStats } from './native-types';
import { loadPlan, type LoadedPlan } from './plan';
import type { NativePlan } from './plan-format';
import { DeviceTensor } from './tensor';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda';

export interface OpenDeviceOptions {
  device?: DeviceRequest;
  /** Which GPU, for 'cuda' (and 'auto' when it picks CUDA). Default 0. */
  ordinal?: number;
}

/** How a device was chosen: printed by the CLI, so the choice is never silent. */
export interface DeviceSelection {
  requested: DeviceRequest;
  kind: 'cpu' | 'cuda';
  reason: string;
  addonPath: string;
  /** CUDA: the card's total memory (what a step's planned memory is checked against). */
  memoryBytes?: number;
}

/**
 * The compute device: the CPU, or one CUDA GPU. Owns a native device handle; tensors it allocates
 * keep the underlying device alive until they are disposed.
 */
export class Device implements Disposable {
  readonly kind: 'cpu' | 'cuda';
  readonly name: string;

  /** @internal Use openDevice. */
  constructor(
    /** @internal */ readonly native: NativeDevice,
    readonly selection: DeviceSelection,
  ) {
    this.kind = native.kind;
    this.name = native.name;
  }

  /** Allocates an uninitialised tensor. */
  alloc(dtype: DType, shape: readonly number[]): DeviceTensor {
    assertDType(dtype);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'shape must be an array of non-negative integers', {
        expected: 'number[] of integers >= 0',
        received: JSON.stringify(shape),
      });
    }
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(bytes)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `a ${dtype} tensor of shape [${shape.join(', ')}] is too large`, {
        expected: 'at most 2^53 bytes',
        received: `${bytes} bytes`,
      });
    }
    return new DeviceTensor(this.name, dtype, [...shape], this.native.alloc(bytes));
  }

  /** Allocates a tensor and uploads `data` into it. */
  tensor(dtype: DType, shape: readonly number[], data: Parameters<DeviceTensor['upload']>[0]): DeviceTensor {
    const t = this.alloc(dtype, shape);
    try {
      return t.upload(data);
    } catch (e) {
      t.dispose();
      throw e;
    }
  }

  /** y = alpha * x + beta * y, elementwise (f32 or bf16; both tensors the same dtype and size). */
  axpby(alpha: number, x: DeviceTensor, beta: number, y: DeviceTensor): void {
    if (x.dtype !== y.dtype) {
      throw new Vit22bError('ERR_DTYPE_MISMATCH', 'axpby operands must have the same dtype', {
        expected: y.dtype,
        received: x.dtype,
      });
    }
    if (x.size !== y.size) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', 'axpby operands must have the same size', {
        expected: `[${y.shape.join(', ')}]`,
        received: `[${x.shape.join(', ')}]`,
      });
    }
    // The eager API's dtype check (the same one every wrapper makes), which also types the spec.
    const { dtype } = requireTensor(x, 'axpby', 'x', ['f32', 'bf16']);
    this.native.launch('axpby', { dtype, n: x.size, alpha, x: x.buffer, beta, y: y.buffer });
  }

  /**
   * C = alpha * op(A) @ op(B) + beta * C (+ bias), row-major, in place in `c`.
   * A and B are f32 or bf16 (the same), C f32 or bf16; accumulation is f32 and C is rounded once.
   * Shapes: op(A) [batch?, m, k], op(B) [batch?, k, n], C [batch?, m, n]; a 2-D A or B with a 3-D C
   * is shared by every batch. On the CPU the result does not depend on the thread count.
   */
  gemm(a: DeviceTensor, b: DeviceTensor, c: DeviceTensor, options: GemmOptions = {}): void {
    this.native.launch('gemm', gemmSpec(a, b, c, options));
  }

  /**
   * Loads a plan (lib/runtime/plan-format.ts): validates it, allocates its arena on this device and
   * prepares every instruction. `slots[i]` is the persistent tensor for slot i + 1, of exactly
   * plan.slotBytes[i + 1] bytes; the plan keeps them alive. Bad plans throw ERR_INVALID_PLAN naming
   * the stream, instruction and field. See LoadedPlan.run.
   */
  loadPlan(plan: NativePlan, slots: readonly DeviceTensor[] = []): LoadedPlan {
    return loadPlan(this.native, plan, slots);
  }

  /** Waits for all queued work on this device. */
  synchronize(): void {
    this.native.synchronize();
  }

  stats(): NativeDeviceStats {
    return this.native.stats();
  }

  /**
   * The most bytes this device held at once since it was opened (its buffers and plans' arenas):
   * the measured memory peak, on the CPU too, which has no allocator of its own (stats().allocator
   * is CUDA's caching allocator).
   */
  peakLiveBytes(): number {
    return this.native.peakLiveBytes();
  }

  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function openCuda(requested: DeviceRequest, ordinal: number): Device {
  const status = cudaStatus();
  if (!status.available) {
    const detailsSearched =
      status.reasonCode === 'cublaslt-missing' ? { searched: status.cublasLt.searched } : {};
    throw new Vit22bError('ERR_CUDA_UNAVAILABLE', `CUDA is unavailable: ${status.reason}`, {
      expected: 'an NVIDIA driver, a CUDA device of compute capability 8.0+, and cuBLASLt',
      received: status.reasonCode,
      reason: status.reasonCode,
      ...detailsSearched,
    });
  }
  // cudaStatus() has loaded the CUDA addon already; this returns the cached one.
  const addon = loadAddon('cuda');
  const native = new addon.native.DeviceHandle('cuda', ordinal);
  const gpu = status.devices[ordinal];
  return new Device(native, {
    requested,
    kind: 'cuda',
    reason:
      requested === 'cuda'
        ? 'requested'
        : `CUDA is available (${gpu?.name ?? `device ${ordinal}`}, driver ${status.driverVersion}, cuBLASLt ${status.cublasLt.version})`,
    addonPath: addon.path,
    ...(gpu ? { memoryBytes: gpu.memoryBytes } : {}),
  });
}

/**
 * Opens a device. 'cpu' always works where the package is installed. 'cuda' never falls back: it
 * throws ERR_CUDA_UNAVAILABLE with the cause (no driver, driver too old, no device, unsupported
 * device, cuBLASLt missing with the places searched, or no CUDA addon). 'auto' takes CUDA when that
 * would succeed and the CPU otherwise, and says why in `device.selection.reason`.
 */
export function openDevice(options: OpenDeviceOptions = {}): Device {
  const requested = options.device ?? 'auto';
  const ordinal = options.ordinal ?? 0;
  if (!['auto', 'cpu', 'cuda'].includes(requested)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `unknown device '${String(requested)}'`, {
      expected: "'auto' | 'cpu' | 'cuda'",
      received: String(requested),
    });
  }
  if (!Number.isSafeInteger(ordinal) || ordinal < 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'ordinal must be a non-negative integer', {
      expected: 'integer >= 0',
      received: String(ordinal),
    });
  }
  if (requested === 'cuda') return openCuda(requested, ordinal);
  let reason = 'requested';
  if (requested === 'auto') {
    const status = cudaStatus();
    if (status.available) return openCuda(requested, ordinal);
    reason = `CUDA unavailable (${status.reason})`;
  }
  const addon = loadCpuCapableAddon();
  const native = new addon.native.DeviceHandle('cpu', 0);
  return new Device(native, { requested, kind: 'cpu', reason, addonPath: addon.path });
}
