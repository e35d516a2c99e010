/**
 * The split-norm kernels (row_moments, norm_apply and their backwards) against the fused norm
 * kernels they stand in for, and their thread independence. The float64 references of each kernel
 * are their case files (test/cases/row_moments*.ts, norm_apply*.ts, run by table.test.ts).
 *
 * Slices: rows [R, D] cut into S column slices; row_moments per slice, the moments summed over the
 * slices (the all-reduce, here in f32 in slice order), norm_apply per slice with total D; put back
 * side by side, y must equal layer_norm_fwd of the whole rows, and the backward (norm_apply_bwd per
 * slice, dstats summed, row_moments_bwd, added to the direct dx) layer_norm_bwd's dx and dscale/dbias.
 * Both sides compute in f32 from the same storage values but take the variance differently (raw
 * moments in double here, centred f32 lanes there), so: y within 2e-6 of its scale (f32) or 2 bf16
 * ulps + 2e-6 (bf16 output); dx within 2e-5 of its scale (f32; more cancellation), plus under bf16
 * one bf16 ulp of |dx| and of |direct part| + |moments part| (each part is rounded to bf16 before
 * they are added, as the graph does); dscale/dbias within 1e-5 of their scale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openDevice, type Device } from '../../lib';
import { mulberry32 } from '../helpers/prng';
import { runNormsChild, upload, valuesOf, violation, type Storage } from './norm-data';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

function scaleOf(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

test.each([
  { dtype: 'f32' as Storage, rows: 37, dim: 96, slices: 3, center: true, bias: true },
  { dtype: 'f32' as Storage, rows: 20, dim: 64, slices: 4, center: false, bias: false },
  { dtype: 'bf16' as Storage, rows: 33, dim: 48, slices: 2, center: true, bias: false },
  { dtype: 'bf16' as Storage, rows: 16, dim: 128, slices: 4, center: false, bias: false },
])('$dtype [$rows, $dim] in $slices slices, center $center: equal to the fused layer_norm kernels', ({ dtype, rows, dim, slices, center, bias }) => {
  const rng = mulberry32(rows * 31 + dim);
  const d = dim / slices;
  // Rows around an offset in [-1, 1), spread +-2 (a residual stream's rows).
  const xv: number[] = [];
  for (let r = 0; r < rows; r++) {
    const o = 2 * rng() - 1;
    for (let j = 0; j < dim; j++) xv.push(o + 4 * rng() - 2);
  }
  const dyv = Array.from({ length: rows * dim }, () => 2 * rng() - 1);
  const sv = Array.from({ length: dim }, () => 0.5 + 1.5 * rng());
  const bv = Array.from({ length: dim }, () => 2 * rng() - 1);
  const eps = 1e-5;
  const owned: { dispose(): void }[] = [];
  const keep = <T extends { dispose(): void }>(t: T) => (owned.push(t), t);
  try {
    // The fused kernels on whole rows.
    const x = keep(upload(device, dtype, [rows, dim], xv).t);
    const dy = keep(upload(device, dtype, [rows, dim], dyv).t);
    const scale = keep(device.tensor('f32', [dim], Float32Array.from(sv)));
    const biasT = keep(device.tensor('f32', [dim], Float32Array.from(bv)));
    const y = keep(device.alloc(dtype, [rows, dim]));
    const mean = keep(device.alloc('f32', [rows]));
    const rstd = keep(device.alloc('f32', [rows]));
    const dx = keep(device.alloc(dtype, [rows, dim]));
    const dscale = keep(device.alloc('f32', [dim]));
    const dbias = keep(device.alloc('f32', [dim]));
    device.native.launch('layer_norm_fwd', { dtype, paramType: 'f32', rows, dim, eps, center, x: x.buffer, scale: scale.buffer, ...(bias ? { bias: biasT.buffer } : {}), y: y.buffer, mean: mean.buffer, rstd: rstd.buffer });
    device.native.launch('layer_norm_bwd', {
      dtype, paramType: 'f32', rows, dim, center, x: x.buffer, scale: scale.buffer, ...(center ? { mean: mean.buffer } : {}), rstd: rstd.buffer,
      dy: dy.buffer, dx: dx.buffer, dscale: dscale.buffer, ...(bias ? { dbias: dbias.buffer } : {}),
    });
    // The split kernels, slice by slice.
    const cut = (v: number[], s: number) => v.filter((_, i) => Math.floor((i % dim) / d) === s);
    const parts = Array.from({ length: slices }, (_, s) => ({
      x: keep(upload(device, dtype, [rows, d], cut(xv, s)).t),
      dy: keep(upload(device, dtype, [rows, d], cut(dyv, s)).t),
      scale: keep(device.tensor('f32', [d], Float32Array.from(sv.slice(s * d, (s + 1) * d)))),
      bias: keep(device.tensor('f32', [d], Float32Array.from(bv.slice(s * d, (s + 1) * d)))),
      stats: keep(device.alloc('f32', [rows, 2])),
    }));
    for (const p of parts) device.native.launch('row_moments', { dtype, rows, dim: d, x: p.x.buffer, stats: p.stats.buffer });
    const sum = new Float32Array(rows * 2);
    for (const p of parts) {
      const s = p.stats.download() as Float32Array;
      for (let i = 0; i < sum.length; i++) sum[i] = Math.fround(sum[i]! + s[i]!);
    }
    const stats = keep(device.tensor('f32', [rows, 2], sum));
    const common = { dtype, paramType: 'f32' as const, rows, dim: d, total: dim, eps, center };
    const ys: Float64Array[] = [];
    const dxs: Float64Array[] = [];
    const dxMag: Float64Array[] = [];
    const dss: Float64Array[] = [];
    const dbs: Float64Array[] = [];
    const dstatsSum = new Float32Array(rows * 2);
    const direct: { dx: ReturnType<Device['alloc']> }[] = [];
    for (const p of parts) {
      const yp = keep(device.alloc(dtype, [rows, d]));
      device.native.launch('norm_apply', { ...common, x: p.x.buffer, stats: stats.buffer, scale: p.scale.buffer, ...(bias ? { bias: p.bias.buffer } : {}), y: yp.buffer });
      ys.push(valuesOf(yp));
      const dxp = keep(device.alloc(dtype, [rows, d]));
      const dst = keep(device.alloc('f32', [rows, 2]));
      const dsp = keep(device.alloc('f32', [d]));
      const dbp = keep(device.alloc('f32', [d]));
      device.native.launch('norm_apply_bwd', {
        ...common, x: p.x.buffer, stats: stats.buffer, scale: p.scale.buffer, dy: p.dy.buffer, dx: dxp.buffer, dstats: dst.buffer,
        dscale: dsp.buffer, ...(bias ? { dbias: dbp.buffer } : {}),
      });
      const part = dst.download() as Float32Array;
      for (let i = 0; i < dstatsSum.length; i++) dstatsSum[i] = Math.fround(dstatsSum[i]! + part[i]!);
      direct.push({ dx: dxp });
      dss.push(Float64Array.from(dsp.download() as Float32Array));
      if (bias) dbs.push(Float64Array.from(dbp.download() as Float32Array));
    }
    const dstats = keep(device.tensor('f32', [rows, 2], dstatsSum));
    parts.forEach((p, s) => {
      const dxm = keep(device.alloc(dtype, [rows, d]));
      device.native.launch('row_moments_bwd', { dtype, rows, dim: d, x: p.x.buffer, dstats: dstats.buffer, dx: dxm.buffer });
      // The graph adds the two parts with an `add` in the storage type; f32 here, then rounded as
      // the add kernel rounds (bf16: once).
      const a = valuesOf(direct[s]!.dx);
      const b = valuesOf(dxm);
      dxs.push(a.map((v, i) => v + b[i]!));
      dxMag.push(a.map((v, i) => Math.abs(v) + Math.abs(b[i]!)));
    });
    const join = (pieces: Float64Array[]) => {
      const out = new Float64Array(rows * dim);
      pieces.forEach((piece, s) => {
        for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) out[r * dim + s * d + j] = piece[r * d + j]!;
      });
      return out;
    };
    const yWhole = valuesOf(y);
    const dxWhole = valuesOf(dx);
    const ulp = dtype === 'bf16' ? 2 ** -7 : 0;
    // The split dx is two parts each stored in the storage type, then added: each carries its own
    // rounding, relative to the part, which may be far larger than their sum (cancellation).
    const mag = join(dxMag);
    const problems = [
      violation('y', join(ys), yWhole, (i) => 2e-6 * scaleOf(yWhole) + ulp * Math.abs(yWhole[i]!)),
      violation('dx', join(dxs), dxWhole, (i) => 2e-5 * scaleOf(dxWhole) + ulp * (Math.abs(dxWhole[i]!) + mag[i]!)),
      violation('dscale', Float64Array.from(dss.flatMap((v) => [...v])), valuesOf(dscale), () => 1e-5 * scaleOf(valuesOf(dscale))),
      ...(bias ? [violation('dbias', Float64Array.from(dbs.flatMap((v) => [...v])), valuesOf(dbias), () => 1e-5 * scaleOf(valuesOf(dbias)))] : []),
    ].filter((p) => p !== null);
    expect(problems).toEqual([]);
    expect(scaleOf(yWhole)).toBeGreaterThan(0.1);
    expect(scaleOf(dxWhole)).toBeGreaterThan(1e-3);
  } finally {
    for (const t of owned) t.dispose();
  }
});

describe('in a child process', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npx tsup` before these tests');
  });
  test('row_moments, norm_apply and their backwards are bitwise identical for 1, 3 and the default thread count', () => {
    const reference = runNormsChild<Record<string, unknown>>('split_norm', { VIT22B_NUM_THREADS: undefined });
    expect(reference.cases).toBe(2);
    expect(Object.keys(reference).length).toBeGreaterThan(10);
    for (const threads of ['1', '3']) expect(runNormsChild('split_norm', { VIT22B_NUM_THREADS: threads })).toEqual(reference);
  });
});
