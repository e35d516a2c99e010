/**
 * Helpers for kernel tests: seeded tensors with their exact float64 values, element-wise
 * comparisons, and kernel runs in a child process (launch-child.cjs) for thread-count
 * independence.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { toBf16, type Device, type DeviceTensor } from '../../lib';
import { decodeBf16 } from './float-reference';
import type { Rng } from './prng';
import { REPO_ROOT } from './paths';

export type Storage = 'f32' | 'bf16';

/** Uniform values in [lo, hi), as the f32 or bf16 tensor stores them. */
export function randomValues(rng: Rng, n: number, lo: number, hi: number, dtype: Storage): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.fround(lo + (hi - lo) * rng());
    out[i] = dtype === 'f32' ? v : decodeBf16(toBf16([v])[0]!);
  }
  return out;
}

/** A tensor holding exactly `values` (which must be representable in `dtype`). */
export function tensorOf(device: Device, dtype: Storage, shape: number[], values: ArrayLike<number>): DeviceTensor {
  return device.tensor(dtype, shape, dtype === 'f32' ? Float32Array.from(values) : toBf16(values));
}

/** First index where |got - ref| > rel * |ref| + abs, described; null when all pass. */
export function mismatch(got: ArrayLike<number>, ref: ArrayLike<number>, rel: number, abs: number): string | null {
  if (got.length !== ref.length) return `length ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    const bound = rel * Math.abs(ref[i]!) + abs;
    if (!(err <= bound)) return `element ${i}: got ${got[i]}, reference ${ref[i]}, |error| ${err} > ${bound}`;
  }
  return null;
}

export interface ChildJob {
  kernel: string;
  spec: object;
  buffers: Record<string, ArrayBufferView>;
  lists?: Record<string, string[]>;
  outputs: string[];
}

export interface ChildResult {
  outputs?: string[][];
  error?: { code: string; message: string };
}

/** Runs jobs in a fresh node process with `env` added; outputs as base64 bytes. */
export function runInChild(jobs: ChildJob[], env: Record<string, string>): ChildResult {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: build first');
  const payload = jobs.map((j) => ({
    ...j,
    buffers: Object.fromEntries(
      Object.entries(j.buffers).map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]),
    ),
  }));
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'test', 'kernels', 'launch-child.cjs')], {
    input: JSON.stringify(payload),
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

/** A child's base64 output as f32 / i32 / raw u16 values (copied: Buffer pool slabs are unaligned). */
export function decodeOutput(base64: string, as: 'f32' | 'i32' | 'u16'): Float32Array | Int32Array | Uint16Array {
  const bytes = Uint8Array.from(Buffer.from(base64, 'base64')).buffer;
  return as === 'f32' ? new Float32Array(bytes) : as === 'i32' ? new Int32Array(bytes) : new Uint16Array(bytes);
}
