/**
 * Cases of "norm_apply_bwd" (lib/kernels/norm_apply_bwd.ts, native/cpu/norm_apply.cc): the
 * backward of norm_apply with the moments as an input of their own, over the variants of
 * norm_apply's cases. Inputs as there (shared/split-norm.ts), dy in [-1, 1).
 *
 * Reference, float64 from the given moments (mu, rstd as norm_apply; g = dy scale):
 *   dx = g rstd;  dvar = -rstd^3 / 2 sum_j g (x - mu);  dstats[., 1] = dvar / total;
 *   dstats[., 0] = (-rstd sum_j g - 2 mu dvar) / total (center; else 0);
 *   dscale = sum_rows dy (x - mu) rstd;  dbias = sum_rows dy.
 * The gradient check closes it against central differences of norm_apply's float64 forward in x,
 * the moments, scale and bias (L = <dy, y>), on the f32 cases.
 *
 * Tolerance (u = 2^-24): every output is a sum of products computed in f32 with rstd's relative
 * error e_r (norm_apply.ts: 4 u (S2/total + mu^2) / (var + eps) + 4 u), summed in double; with
 * e = 3 e_r + 8 u, |err| <= e times the same sum of absolute values (the magnitude M of the output):
 * abs = 2 e M, the largest over the case, per output; bf16 dx adds rel 2^-8. CUDA against the CPU:
 * twice that.
 */
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import { roundTo, uniform } from './case-kit';
import { globalMoments, normApplyRef, rowStats, rowValues, type SplitNormCase } from './shared/split-norm';

const U = 2 ** -24;

type Options = SplitNormCase;

interface Grads {
  dx: Float64Array;
  dstats: Float64Array;
  dscale: Float64Array;
  dbias: Float64Array;
}

/** The formulas of the header; `abs` true gives the magnitudes M (every term taken absolute). */
function backward(x: ArrayLike<number>, stats: ArrayLike<number>, scale: ArrayLike<number>, dy: ArrayLike<number>, o: Options, abs: boolean): Grads {
  const { rows, dim, total } = o;
  const a = (v: number) => (abs ? Math.abs(v) : v);
  const out: Grads = { dx: new Float64Array(rows * dim), dstats: new Float64Array(rows * 2), dscale: new Float64Array(dim), dbias: new Float64Array(dim) };
  for (let i = 0; i < rows; i++) {
    const { mu, rstd } = rowStats(stats, i, total, o.center, o.eps);
    let sg = 0;
    let sgc = 0;
    for (let j = 0; j < dim; j++) {
      const g = dy[i * dim + j]! * scale[j]!;
      const c = x[i * dim + j]! - mu;
      sg += a(g);
      sgc += a(g * c);
      out.dx[i * dim + j] = a(g * rstd);
      out.dscale[j] = out.dscale[j]! + a(dy[i * dim + j]! * c * rstd);
      out.dbias[j] = out.dbias[j]! + a(dy[i * dim + j]!);
    }
    const dvar = -0.5 * rstd ** 3 * sgc;
    out.dstats[2 * i + 1] = a(dvar / total);
    out.dstats[2 * i] = o.center ? (abs ? (rstd * sg + 2 * Math.abs(mu * dvar)) / total : (-rstd * sg - 2 * mu * dvar) / total) : 0;
  }
  return out;
}

function maxOf(v: Float64Array): number {
  let m = 0;
  for (const e of v) m = Math.max(m, e);
  return m;
}

function bwdCase(o: Options): KernelCase {
  const { rows, dim, total, dtype, paramType, center, eps } = o;
  const x = roundTo(dtype, rowValues(rows, dim, o.seed));
  const stats = globalMoments(x, rows, dim, total, o.seed + 1);
  const scale = roundTo(paramType, uniform(dim, o.seed + 2, 0.5, 2));
  const dy = roundTo(dtype, uniform(rows * dim, o.seed + 4, -1, 1));
  let er = 0;
  for (let i = 0; i < rows; i++) {
    const { mu, rstd } = rowStats(stats, i, total, center, eps);
    er = Math.max(er, 4 * U * (stats[2 * i + 1]! / total + mu * mu) * rstd * rstd + 4 * U);
  }
  const e = 3 * er + 8 * U;
  const mag = backward(x, stats, scale, dy, o, true);
  const tol = (name: keyof Grads, rel = 0): Tolerance => ({ abs: 2 * e * maxOf(mag[name]) + 1e-30, rel });
  const tolerance: Record<string, Tolerance> = { dx: tol('dx', dtype === 'bf16' ? 2 ** -8 : 0), dstats: tol('dstats'), dscale: tol('dscale'), dbias: tol('dbias') };
  const gpuTolerance = Object.fromEntries(Object.entries(tolerance).map(([k, t]) => [k, { abs: 2 * t.abs, rel: 2 * t.rel }]));
  const bias = roundTo(paramType, uniform(dim, o.seed + 3, -1, 1));
  return {
    name: `[${rows}, ${dim} of ${total}] ${dtype} x, ${paramType} scale, ${center ? 'LayerNorm' : 'RMSNorm'}${o.bias ? ' + bias' : ''}`,
    dtype: `${dtype} x ${paramType} scale`,
    layout: center ? (o.bias ? 'layer + bias' : 'layer') : 'rms',
    buffers: {
      x: { dtype, size: rows * dim, role: 'in', data: x },
      stats: { dtype: 'f32', size: rows * 2, role: 'in', data: stats },
      scale: { dtype: paramType, size: dim, role: 'in', data: scale },
      dy: { dtype, size: rows * dim, role: 'in', data: dy },
      ...(o.bias ? { bias: { dtype: paramType, size: dim, role: 'in' as const, data: bias } } : {}),
      dx: { dtype, size: rows * dim, role: 'out' },
      dstats: { dtype: 'f32', size: rows * 2, role: 'out' },
      dscale: { dtype: 'f32', size: dim, role: 'out' },
      ...(o.bias ? { dbias: { dtype: 'f32' as const, size: dim, role: 'out' as const } } : {}),
    },
    spec: (b) => ({
      dtype, paramType, rows, dim, total, eps, center, x: b.x, stats: b.stats, scale: b.scale, dy: b.dy,
      dx: b.dx, dstats: b.dstats, dscale: b.dscale, ...(o.bias ? { dbias: b.dbias } : {}),
    }),
    reference: (init) => {
      const r = backward(init.x!, init.stats!, init.scale!, init.dy!, o, false);
      return { dx: r.dx, dstats: r.dstats, dscale: r.dscale, ...(o.bias ? { dbias: r.dbias } : {}) };
    },
    tolerance,
    gpuTolerance,
    ...(dtype === 'f32' && paramType === 'f32' && rows * dim > 0
      ? {
          gradient: {
            forward: (i: Record<string, Float64Array>) => ({ y: normApplyRef(i.x!, i.stats!, i.scale!, o.bias ? i.bias : undefined, rows, dim, total, center, eps) }),
            wrt: ['x', 'stats', 'scale', ...(o.bias ? ['bias'] : [])],
            cotangents: { y: 'dy' },
            grads: { x: 'dx', stats: 'dstats', scale: 'dscale', ...(o.bias ? { bias: 'dbias' } : {}) },
          },
        }
      : {}),
  };
}

const OPTIONS: Options[] = [
  { rows: 1, dim: 1, total: 1, dtype: 'f32', paramType: 'f32', center: false, bias: false, eps: 1e-6, seed: 31 },
  { rows: 12, dim: 8, total: 32, dtype: 'f32', paramType: 'f32', center: true, bias: true, eps: 1e-6, seed: 32 },
  { rows: 40, dim: 16, total: 64, dtype: 'f32', paramType: 'f32', center: false, bias: false, eps: 1e-5, seed: 33 },
  { rows: 9, dim: 24, total: 24, dtype: 'f32', paramType: 'f32', center: true, bias: false, eps: 1e-6, seed: 34 },
  { rows: 33, dim: 24, total: 96, dtype: 'bf16', paramType: 'f32', center: true, bias: false, eps: 1e-6, seed: 35 },
  { rows: 17, dim: 520, total: 1040, dtype: 'bf16', paramType: 'bf16', center: true, bias: true, eps: 1e-6, seed: 36 },
  { rows: 130, dim: 40, total: 160, dtype: 'f32', paramType: 'bf16', center: false, bias: false, eps: 1e-6, seed: 37 },
  { rows: 0, dim: 4, total: 8, dtype: 'f32', paramType: 'f32', center: true, bias: true, eps: 1e-6, seed: 38 },
];

const normApplyBwd: KernelCases = { kernel: 'norm_apply_bwd', cases: OPTIONS.map(bwdCase) };
export default normApplyBwd;
