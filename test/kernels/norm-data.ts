// Seeded test inputs for the norm and GELU kernel tests, uploaded as f32 or as bf16 bits, with the
// exact values the device holds (bf16 decoded) for the float64 references; and element-wise bound
// checks that name the first violation.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import type { Device, DeviceTensor } from '../../lib';
import { decodeBf16, referenceBf16Bits } from '../helpers/float-reference';
import type { Rng } from '../helpers/prng';

export type Storage = 'f32' | 'bf16';

/** What a tensor holds, as numbers: f32 values, or bf16 bits decoded exactly. */
export function valuesOf(t: DeviceTensor): Float64Array {
  const raw = t.download();
  if (t.dtype === 'bf16') return Float64Array.from(raw as Uint16Array, (b) => decodeBf16(b));
  return Float64Array.from(raw as Float32Array);
}

/** Uploads `values` (rounded to the storage type) and returns the tensor and what it holds. */
export function upload(device: Device, dtype: Storage, shape: number[], values: ArrayLike<number>): { t: DeviceTensor; v: Float64Array } {
  if (dtype === 'f32') {
    const f = Float32Array.from(values);
    return { t: device.tensor('f32', shape, f), v: Float64Array.from(f) };
  }
  const bits = Uint16Array.from(values, (x) => referenceBf16Bits(Math.fround(x))!);
  return { t: device.tensor('bf16', shape, bits), v: Float64Array.from(bits, (b) => decodeBf16(b)) };
}

/** n values sign * (lo + (hi - lo) * u): never zero for lo > 0. */
export function nonZeroValues(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng());
  return out;
}

/**
 * First index where |got - ref| > bound(i), described; null when every element is within bounds.
 * NaN anywhere is a violation.
 */
export function violation(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, bound: (i: number) => number): string | null {
  if (got.length !== ref.length) return `${what}: length ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    const b = bound(i);
    if (!(err <= b)) return `${what}[${i}]: got ${got[i]}, reference ${ref[i]}, |error| ${err} > bound ${b}`;
  }
  return null;
}

/**
 * Runs test/kernels/norms-child.cjs in `mode` ('gelu' | 'layer_norm') with `env` laid over this
 * process's environment (an undefined value removes the variable), and returns its JSON output.
 */
export function runNormsChild<T>(mode: string, env: Record<string, string | undefined>): T {
  const childEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = path.join(__dirname, 'norms-child.cjs');
  const r = spawnSync(process.execPath, [child, mode], { encoding: 'utf8', env: childEnv, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A child's base64 output buffer as numbers (f32 values, or bf16 bits decoded exactly). */
export function decodeStorage(b64: string, dtype: Storage): Float64Array {
  const bytes = Buffer.from(b64, 'base64');
  if (dtype === 'f32') return Float64Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
  return Float64Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2), (b) => decodeBf16(b));
}
