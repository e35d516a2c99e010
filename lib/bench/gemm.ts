import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { timeMedian } from './timer';

export interface GemmBenchOptions {
  m: number;
  n: number;
  k: number;
  /** Storage of A and B; C is f32 (f32 accumulation either way). */
  dtype: 'f32' | 'bf16';
  transA?: boolean;
  transB?: boolean;
  /** Time budget for the timed calls. Default 1.5 s. */
  seconds?: number;
}

export interface GemmBenchResult {
  kernel: 'gemm';
  device: string;
  m: number;
  n: number;
  k: number;
  dtype: 'f32' | 'bf16';
  transA: boolean;
  transB: boolean;
  gflops: number;
  medianSeconds: number;
  calls: number;
}

/** Uniform values in [-1, 1) from a fixed LCG: the same operands every run, never all zeros. */
function operand(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2147483648 - 1;
  }
  return out;
}

/** GFLOP/s (2 m n k per call) of C = op(A) op(B) on `device`, median over repeated calls. */
export function benchGemm(device: Device, o: GemmBenchOptions): GemmBenchResult {
  for (const [name, v] of [['m', o.m], ['n', o.n], ['k', o.k]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `gemm benchmark size ${name} must be a positive integer`, {
        expected: 'integer >= 1',
        received: String(v),
      });
    }
  }
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  using a = device.tensor(o.dtype, transA ? [o.k, o.m] : [o.m, o.k], operand(o.m * o.k, 1));
  using b = device.tensor(o.dtype, transB ? [o.n, o.k] : [o.k, o.n], operand(o.k * o.n, 2));
  using c = device.alloc('f32', [o.m, o.n]);
  const t = timeMedian(() => {
    device.gemm(a, b, c, { transA, transB });
    device.synchronize();
  }, o.seconds ?? 1.5);
  return {
    kernel: 'gemm',
    device: device.name,
    m: o.m,
    n: o.n,
    k: o.k,
    dtype: o.dtype,
    transA,
    transB,
    gflops: (2 * o.m * o.n * o.k) / t.medianSeconds / 1e9,
    medianSeconds: t.medianSeconds,
    calls: t.calls,
  };
}
