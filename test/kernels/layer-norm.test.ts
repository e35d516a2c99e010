// layer_norm_fwd / layer_norm_bwd (native/cpu/layer_norm.cc) through layerNorm, rmsNorm and
// layerNormBackward: what the kernel table (test/cases/layer_norm_fwd.ts, layer_norm_bwd.ts) cannot
// say. The float64 comparisons of every variant (LayerNorm / RMSNorm, with and without bias), f32 and
// bf16 storage with f32 and bf16 parameters, odd and large shapes, the per-head QK-norm shape, a
// large eps, and the backward against finite differences, are cases there (this file's bounds,
// below, reduced to one { abs, rel } per output). Here: one correctness check of each wrapper
// (layerNorm with a bias and eps 0.5, where eps visibly matters; rmsNorm on the per-head QK-norm
// shape; layerNormBackward after both), typed errors, and, in child processes, thread-count
// independence and every ISA path (against the same float64 references).
//
// Tolerances (u = 2^-23, the f32 unit roundoff; the kernels sum in 16 lanes, so a row sum of D
// terms carries about D/16 + 4 roundings, and the block sums over rows about rows/64 + 64):
//   f32 y:       |err| <= u (D/16 + 16) * (|scale_j| (|xhat| + rstd * mean_row|x|) + |bias_j|)
//                (rstd * mean|x|: mu's error spreads to every xhat, which matters on rows whose
//                spread is small next to their mean)
//   f32 mean:    |err| <= u (D/16 + 16) * mean_row|x|;   rstd: rel. error <= u (D/16 + 16)
//   f32 dx:      |err| <= 4 u (D/16 + 16) * rstd (|g| + |mean g| + |xhat| mean|g xhat|
//                           + rstd mean|x| (mean|g xhat| + |xhat| mean|g|)),  g = dy scale
//   dscale/dbias:|err| <= 2 u (rows/64 + 64 + D/16 + 16) * sum_rows |term|
//   bf16 storage (x, dy, y, dx in bf16; stats and parameter gradients stay f32):
//                the f32 bound + 2^-8 |ref| for outputs stored in bf16 (one rounding, 2^-9).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { layerNorm, layerNormBackward, openDevice, rmsNorm, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { layerNormBackwardRef, layerNormRef } from '../helpers/norm-reference';
import { mulberry32, type Rng } from '../helpers/prng';
import { decodeStorage, nonZeroValues, runNormsChild, upload, valuesOf, violation, type Storage } from './norm-data';

const U = 2 ** -23;

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

interface NormCase {
  shape: number[]; // x's shape; the last dimension is normalized
  dtype: Storage;
  paramType: Storage;
  center: boolean;
  bias: boolean;
  eps: number;
  seed: number;
}

/** x rows around a random offset (so centering matters and a one-pass variance would cancel). */
function inputs(rng: Rng, rows: number, dim: number): Float64Array {
  const x = nonZeroValues(rng, rows * dim, 0.05, 2);
  for (let r = 0; r < rows; r++) {
    const offset = (rng() - 0.5) * 16;
    for (let j = 0; j < dim; j++) x[r * dim + j] = x[r * dim + j]! + offset;
  }
  return x;
}

interface Run {
  rows: number;
  dim: number;
  x: Float64Array;
  scale: Float64Array;
  bias?: Float64Array;
  dy: Float64Array;
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
  dx: Float64Array;
  dscale: Float64Array;
  dbias?: Float64Array;
}

/** Runs forward (saving mean/rstd) and backward on the device; returns inputs and outputs as held. */
function runCase(c: NormCase): Run {
  const rng = mulberry32(c.seed);
  const dim = c.shape[c.shape.length - 1]!;
  const rows = c.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const statShape = c.shape.slice(0, -1);
  const x = upload(device, c.dtype, c.shape, inputs(rng, rows, dim));
  const scale = upload(device, c.paramType, [dim], nonZeroValues(rng, dim, 0.5, 2));
  const bias = c.bias ? upload(device, c.paramType, [dim], nonZeroValues(rng, dim, 0.1, 1)) : undefined;
  const dy = upload(device, c.dtype, c.shape, nonZeroValues(rng, rows * dim, 0.1, 1));
  const y = device.alloc(c.dtype, c.shape);
  const mean = device.alloc('f32', statShape);
  const rstd = device.alloc('f32', statShape);
  const dx = device.alloc(c.dtype, c.shape);
  const dscale = device.alloc('f32', [dim]);
  const dbias = c.bias ? device.alloc('f32', [dim]) : undefined;
  const all: (DeviceTensor | undefined)[] = [x.t, scale.t, bias?.t, dy.t, y, mean, rstd, dx, dscale, dbias];
  try {
    const opts = { eps: c.eps, rstd, ...(bias ? { bias: bias.t } : {}) };
    if (c.center) layerNorm(device, x.t, scale.t, y, { ...opts, mean });
    else rmsNorm(device, x.t, scale.t, y, opts);
    layerNormBackward(device, { x: x.t, scale: scale.t, dy: dy.t, rstd, ...(c.center ? { mean } : {}) }, { dx, dscale, ...(dbias ? { dbias } : {}) }, { center: c.center });
    return {
      rows, dim,
      x: x.v, scale: scale.v, ...(bias ? { bias: bias.v } : {}), dy: dy.v,
      y: valuesOf(y), mean: valuesOf(mean), rstd: valuesOf(rstd), dx: valuesOf(dx), dscale: valuesOf(dscale),
      ...(dbias ? { dbias: valuesOf(dbias) } : {}),
    };
  } finally {
    for (const t of all) t?.dispose();
  }
}

/** Every check of one case against the float64 reference; returns the violations found. */
function checkAgainstReference(c: NormCase, run: Run): string[] {
  const { rows, dim } = run;
  const lanes = U * (dim / 16 + 16);
  const store = (ref: number): number => (c.dtype === 'bf16' ? 2 ** -8 * Math.abs(ref) : 0);
  const f = layerNormRef(run.x, run.scale, run.bias, rows, dim, c.eps, c.center);
  const b = layerNormBackwardRef(run.x, run.scale, run.dy, rows, dim, c.eps, c.center);
  // Per row: mean|x| (the scale of the error in mu, and so in every xhat: xhat's absolute error is
  // about lanes * rstd * mean|x|, large next to |xhat| when a row's spread is small next to its
  // mean), mean|g| and mean|g xhat| (what that error is multiplied by in dx).
  const meanAbs = new Float64Array(rows);
  const meanAbsG = new Float64Array(rows);
  const meanAbsGx = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j, g = run.dy[i]! * run.scale[j]!;
      meanAbs[r] = meanAbs[r]! + Math.abs(run.x[i]!) / dim;
      meanAbsG[r] = meanAbsG[r]! + Math.abs(g) / dim;
      meanAbsGx[r] = meanAbsGx[r]! + Math.abs(g * f.xhat[i]!) / dim;
    }
  }
  const yBound = (i: number): number => {
    const r = Math.floor(i / dim), j = i % dim;
    const terms = Math.abs(run.scale[j]!) * (Math.abs(f.xhat[i]!) + f.rstd[r]! * meanAbs[r]!) + (run.bias ? Math.abs(run.bias[j]!) : 0);
    return lanes * terms + store(f.y[i]!);
  };
  const dxBound = (i: number): number => {
    const r = Math.floor(i / dim);
    const xhatError = f.rstd[r]! * meanAbs[r]!;
    const terms = b.dxScale[i]! + f.rstd[r]! * xhatError * (meanAbsGx[r]! + Math.abs(f.xhat[i]!) * meanAbsG[r]!);
    return 4 * lanes * terms + store(b.dx[i]!);
  };
  const sumBound = (scaleOf: Float64Array) => (j: number): number => 2 * U * (rows / 64 + 64 + dim / 16 + 16) * scaleOf[j]!;
  const found = [
    violation('y', run.y, f.y, yBound),
    violation('rstd', run.rstd, f.rstd, (r) => lanes * f.rstd[r]!),
    c.center ? violation('mean', run.mean, f.mean, (r) => lanes * meanAbs[r]!) : null,
    violation('dx', run.dx, b.dx, dxBound),
    violation('dscale', run.dscale, b.dscale, sumBound(b.dscaleScale)),
    run.dbias ? violation('dbias', run.dbias, b.dbias, sumBound(b.dbiasScale)) : null,
  ];
  return found.filter((v): v is string => v !== null).map((v) => `${JSON.stringify(c)}: ${v}`);
}

describe('layerNorm, rmsNorm and layerNormBackward', () => {
  test('layerNorm with a bias and eps 0.5: a large eps changes rstd as the reference says', () => {
    const c: NormCase = { shape: [7, 33], dtype: 'f32', paramType: 'f32', center: true, bias: true, eps: 0.5, seed: 300 };
    const run = runCase(c);
    expect(checkAgainstReference(c, run)).toEqual([]);
    // With eps = 0.5 on rows of variance ~1, rstd is far from 1/std: the check above saw eps.
    const noEps = layerNormRef(run.x, run.scale, run.bias, 7, 33, 0, true);
    expect(Math.abs(run.rstd[0]! - noEps.rstd[0]!)).toBeGreaterThan(0.1 * noEps.rstd[0]!);
  });

  // The per-head QK norm: x [B, T, H, Dh] with one scale [Dh] shared by the heads.
  test('rmsNorm on the per-head QK-norm shape [2, 5, 3, 16], one scale [16] shared by the heads', () => {
    const c: NormCase = { shape: [2, 5, 3, 16], dtype: 'f32', paramType: 'f32', center: false, bias: false, eps: 1e-6, seed: 400 };
    const run = runCase(c);
    expect(run.rows).toBe(30);
    expect(checkAgainstReference(c, run)).toEqual([]);
    // The same scale entry multiplies the same Dh index of every head: head 2 of token (1, 4) is
    // row 1*15 + 4*3 + 2 = 29.
    const r = 29, j = 7;
    const xhat = run.x[r * 16 + j]! * run.rstd[r]!;
    expect(Math.abs(run.y[r * 16 + j]! - xhat * run.scale[j]!)).toBeLessThan(1e-5);
  });
});

describe('typed errors', () => {
  function expectErr(fn: () => void, code: string, expected?: string, received?: string): void {
    const e = thrownBy(fn);
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code, ...(expected !== undefined ? { expected } : {}), ...(received !== undefined ? { received } : {}) });
  }

  test('from the TypeScript wrappers', () => {
    const x = device.alloc('f32', [4, 6]), y = device.alloc('f32', [4, 6]), s = device.alloc('f32', [6]);
    const xb = device.alloc('bf16', [4, 6]), sb = device.alloc('bf16', [6]), xi = device.alloc('i32', [4, 6]);
    const st = device.alloc('f32', [4]), st5 = device.alloc('f32', [5]), ds = device.alloc('f32', [6]);
    expectErr(() => layerNorm(device, x, s, xb), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => layerNorm(device, xi, s, y), 'ERR_DTYPE_MISMATCH', 'f32 | bf16', 'i32');
    expectErr(() => layerNorm(device, x, st, y), 'ERR_SHAPE_MISMATCH', '[6]', '[4]');
    expectErr(() => layerNorm(device, x, s, st), 'ERR_SHAPE_MISMATCH', '[4, 6]', '[4]');
    expectErr(() => layerNorm(device, x, s, y, { bias: sb }), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => layerNorm(device, x, s, y, { rstd: st5 }), 'ERR_SHAPE_MISMATCH', '[4]', '[5]');
    expectErr(() => layerNorm(device, x, s, y, { mean: sb }), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => layerNorm(device, x, s, y, { eps: 0 }), 'ERR_INVALID_ARGUMENT');
    expectErr(() => layerNorm(device, x, s, y, { eps: 1e-60 }), 'ERR_INVALID_ARGUMENT');
    expectErr(() => layerNorm(device, x, s, y, { eps: NaN }), 'ERR_INVALID_ARGUMENT');
    expectErr(() => layerNorm(device, x, s, y, { center: 'yes' as unknown as boolean }), 'ERR_INVALID_ARGUMENT', 'boolean', 'string');
    expectErr(() => layerNorm(device, x, {} as DeviceTensor, y), 'ERR_INVALID_ARGUMENT', 'DeviceTensor', 'object');
    // The backward needs mean when centering, and f32 gradients of the parameters.
    expectErr(() => layerNormBackward(device, { x, scale: s, dy: y, rstd: st }, { dx: xb, dscale: ds }), 'ERR_INVALID_ARGUMENT', 'DeviceTensor', 'undefined');
    expectErr(() => layerNormBackward(device, { x, scale: s, dy: y, rstd: st }, { dx: xb, dscale: ds }, { center: false }), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => layerNormBackward(device, { x, scale: s, dy: y, rstd: st }, { dx: x, dscale: sb }, { center: false }), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => layerNormBackward(device, null as never, { dx: x, dscale: ds }), 'ERR_INVALID_ARGUMENT', 'object', 'null');
    for (const t of [x, y, s, xb, sb, xi, st, st5, ds]) t.dispose();
    expectErr(() => layerNorm(device, x, s, y), 'ERR_DISPOSED');
  });

  test('from the native launcher', () => {
    // Buffers of the valid baseline specs, in bytes; a patch replaces fields (and allocates only
    // the buffers it does not replace, so nothing leaks).
    const FWD = { x: 96, scale: 24, y: 96, mean: 16, rstd: 16 };
    const BWD = { x: 96, scale: 24, mean: 16, rstd: 16, dy: 96, dx: 96, dscale: 24 };
    const spec = (buffers: Record<string, number>, scalars: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> => {
      const s: Record<string, unknown> = { dtype: 'f32', paramType: 'f32', rows: 4, dim: 6, center: true, ...scalars };
      for (const [name, bytes] of Object.entries(buffers)) if (!(name in patch)) s[name] = device.native.alloc(bytes);
      return { ...s, ...patch };
    };
    const disposeAll = (s: Record<string, unknown>): void => {
      for (const v of Object.values(s)) {
        if (typeof v === 'object' && v !== null && 'dispose' in v && !(v as unknown as { disposed: boolean }).disposed) (v as unknown as { dispose(): void }).dispose();
      }
    };
    const fwd = (patch: Record<string, unknown> = {}) => spec(FWD, { eps: 1e-5 }, patch);
    const bwd = (patch: Record<string, unknown> = {}) => spec(BWD, {}, patch);
    const expectNative = (kernel: string, s: Record<string, unknown>, code: string, expected?: string, received?: string): void => {
      try {
        expectErr(() => launchUntyped(device, kernel, s), code, expected, received);
      } finally {
        disposeAll(s);
      }
    };
    const buf = (bytes: number) => device.native.alloc(bytes);

    for (const [kernel, s] of [['layer_norm_fwd', fwd()], ['layer_norm_bwd', bwd()]] as const) {
      launchUntyped(device, kernel, s); // the baselines are valid
      disposeAll(s);
    }
    expectNative('layer_norm_fwd', fwd({ rows: 5 }), 'ERR_SHAPE_MISMATCH', '>= 120 bytes (30 f32)', '96 bytes');
    expectNative('layer_norm_fwd', fwd({ dtype: 'bf16', scale: buf(8) }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '8 bytes');
    expectNative('layer_norm_fwd', fwd({ paramType: 'bf16', bias: buf(10) }), 'ERR_SHAPE_MISMATCH', '>= 12 bytes (6 bf16)', '10 bytes');
    expectNative('layer_norm_fwd', fwd({ rows: 2 ** 40, dim: 2 ** 40 }), 'ERR_SHAPE_MISMATCH', 'a footprint below 2^63 bytes');
    expectNative('layer_norm_fwd', fwd({ dtype: 'i32' }), 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'i32');
    expectNative('layer_norm_fwd', fwd({ paramType: 'u8' }), 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'u8');
    expectNative('layer_norm_fwd', fwd({ dtype: 'f16' }), 'ERR_INVALID_ARGUMENT');
    expectNative('layer_norm_fwd', fwd({ eps: -1 }), 'ERR_INVALID_ARGUMENT');
    expectNative('layer_norm_fwd', fwd({ eps: Infinity }), 'ERR_INVALID_ARGUMENT');
    expectNative('layer_norm_fwd', fwd({ rows: 1.5 }), 'ERR_INVALID_ARGUMENT');
    expectNative('layer_norm_fwd', fwd({ center: 1 }), 'ERR_INVALID_ARGUMENT', 'boolean', 'number');
    expectNative('layer_norm_fwd', fwd({ x: 'x' }), 'ERR_INVALID_ARGUMENT', 'BufferHandle', 'string');
    const x = buf(96);
    expectNative('layer_norm_fwd', fwd({ x, y: x }), 'ERR_INVALID_ARGUMENT');
    const gone = buf(96);
    gone.dispose();
    expectNative('layer_norm_fwd', fwd({ x: gone }), 'ERR_DISPOSED');
    const other = openDevice({ device: 'cpu' });
    expectNative('layer_norm_fwd', fwd({ x: other.native.alloc(96) }), 'ERR_DEVICE_MISMATCH');
    other.dispose();

    expectNative('layer_norm_bwd', bwd({ mean: undefined }), 'ERR_INVALID_ARGUMENT'); // centering needs the mean
    expectNative('layer_norm_bwd', bwd({ rstd: buf(12) }), 'ERR_SHAPE_MISMATCH', '>= 16 bytes (4 f32)', '12 bytes');
    expectNative('layer_norm_bwd', bwd({ dscale: buf(20) }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '20 bytes');
    expectNative('layer_norm_bwd', bwd({ dbias: buf(4) }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '4 bytes');
    expectNative('layer_norm_bwd', bwd({ dtype: 'bf16', dx: buf(40) }), 'ERR_SHAPE_MISMATCH', '>= 48 bytes (24 bf16)', '40 bytes');
    const dy = buf(96);
    expectNative('layer_norm_bwd', bwd({ dy, dx: dy }), 'ERR_INVALID_ARGUMENT');
  });
});

describe('in a child process', () => {
  const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');
  interface ChildCase { dtype: Storage; rows: number; dim: number; center: boolean; bias: boolean; eps: number }
  type ChildOut = Record<string, string> & { cases: ChildCase[] };

  beforeAll(() => {
    if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npx tsup` before these tests');
  });

  const runChild = (env: Record<string, string | undefined>): ChildOut => runNormsChild<ChildOut>('layer_norm', env);
  const decode = (b64: string | undefined, dtype: Storage): Float64Array | undefined =>
    b64 === undefined ? undefined : decodeStorage(b64, dtype);

  test('forward and backward (dscale / dbias sums included) are bitwise identical for 1, 3 and the default thread count', () => {
    const reference = runChild({ VIT22B_NUM_THREADS: undefined });
    expect(reference.cases).toHaveLength(4);
    for (const threads of ['1', '3']) expect(runChild({ VIT22B_NUM_THREADS: threads })).toEqual(reference);
  });

  // layer_norm_rows.h is built for baseline x86-64 and for AVX-512 (which may fuse multiply-adds):
  // each build must meet the reference bounds.
  test.each(['scalar', 'avx2', 'avx512'])('every ISA path meets the reference bounds (VIT22B_CPU_ISA=%s)', (isa) => {
    const out = runChild({ VIT22B_CPU_ISA: isa });
    const errors = out.cases.flatMap((c, i) => {
      const get = (name: string, dtype: Storage): Float64Array | undefined => decode(out[`${i}-${name}`], dtype);
      const run: Run = {
        rows: c.rows, dim: c.dim,
        x: get('x', c.dtype)!, scale: get('scale', 'f32')!, dy: get('dy', c.dtype)!,
        y: get('y', c.dtype)!, mean: get('mean', 'f32')!, rstd: get('rstd', 'f32')!, dx: get('dx', c.dtype)!, dscale: get('dscale', 'f32')!,
        ...(c.bias ? { bias: get('bias', 'f32')!, dbias: get('dbias', 'f32')! } : {}),
      };
      expect(run.x).toHaveLength(c.rows * c.dim);
      return checkAgainstReference({ shape: [c.rows, c.dim], dtype: c.dtype, paramType: 'f32', center: c.center, bias: c.bias, eps: c.eps, seed: 0 }, run);
    });
    expect(errors).toEqual([]);
  });
});
