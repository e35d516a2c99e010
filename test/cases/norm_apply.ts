/**
 * Cases of "norm_apply" (lib/kernels/norm_apply.ts, native/cpu/norm_apply.cc): a slice of `dim`
 * columns of rows of `total`, normalized with the global moments (LayerNorm with and without bias,
 * RMSNorm), f32 / bf16 storage, f32 / bf16 parameters, the whole row (dim == total), no rows.
 *
 * Inputs (shared/split-norm.ts): rows around an offset in [-1, 1), spread +-2; the moments are the
 * float64 sums of whole rows (this slice plus columns drawn for the other slices) rounded to f32, as
 * the all-reduce hands them over. Reference: float64 from those moments (given, as the kernel is).
 *
 * Tolerance (u = 2^-24): the kernel takes mu and var in f32 from the moments (var from raw moments:
 * its error is relative to S2/total + mu^2, not to var), e_r = 4 u (S2/total + mu^2) / (var + eps)
 * + 4 u bounds rstd's relative error; y's is then |scale| rstd (|x - mu| e_r + 2 u (|x| + |mu|))
 * + 2 u |y|, times 2, as abs (the largest over the case); bf16 storage adds rel 2^-8. CUDA against
 * the CPU: twice that (both sides carry it).
 */
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';
import { globalMoments, normApplyRef, rowStats, rowValues, type DT, type SplitNormCase } from './shared/split-norm';

const U = 2 ** -24;

type Options = SplitNormCase;

/** The bound of the header on |y - y_ref|, the largest over the case. */
function applyBound(x: ArrayLike<number>, stats: ArrayLike<number>, scale: ArrayLike<number>, o: Options): number {
  let worst = 0;
  for (let i = 0; i < o.rows; i++) {
    const { mu, rstd } = rowStats(stats, i, o.total, o.center, o.eps);
    const m2 = stats[2 * i + 1]! / o.total;
    const er = (4 * U * (m2 + mu * mu)) * rstd * rstd + 4 * U;
    for (let j = 0; j < o.dim; j++) {
      const xv = x[i * o.dim + j]!;
      const y = (xv - mu) * rstd * scale[j]!;
      worst = Math.max(worst, Math.abs(scale[j]!) * rstd * (Math.abs(xv - mu) * er + 2 * U * (Math.abs(xv) + Math.abs(mu))) + 2 * U * (Math.abs(y) + 1));
    }
  }
  return 2 * worst;
}

function applyCase(o: Options): KernelCase {
  const { rows, dim, total, dtype, paramType, center, eps } = o;
  const round = (d: DT, v: Float64Array) => roundTo(d, v);
  const x = round(dtype, rowValues(rows, dim, o.seed));
  const stats = globalMoments(x, rows, dim, total, o.seed + 1);
  const scale = round(paramType, uniform(dim, o.seed + 2, 0.5, 2));
  const bias = round(paramType, uniform(dim, o.seed + 3, -1, 1));
  const abs = applyBound(x, stats, scale, o);
  const rel = dtype === 'bf16' ? 2 ** -8 : 0;
  return {
    name: `[${rows}, ${dim} of ${total}] ${dtype} x, ${paramType} scale, ${center ? 'LayerNorm' : 'RMSNorm'}${o.bias ? ' + bias' : ''}`,
    dtype: `${dtype} x ${paramType} scale`,
    layout: center ? (o.bias ? 'layer + bias' : 'layer') : 'rms',
    buffers: {
      x: { dtype, size: rows * dim, role: 'in', data: x },
      stats: { dtype: 'f32', size: rows * 2, role: 'in', data: stats },
      scale: { dtype: paramType, size: dim, role: 'in', data: scale },
      ...(o.bias ? { bias: { dtype: paramType, size: dim, role: 'in' as const, data: bias } } : {}),
      y: { dtype, size: rows * dim, role: 'out' },
    },
    spec: (b) => ({ dtype, paramType, rows, dim, total, eps, center, x: b.x, stats: b.stats, scale: b.scale, ...(o.bias ? { bias: b.bias } : {}), y: b.y }),
    reference: (init) => ({ y: normApplyRef(init.x!, init.stats!, init.scale!, o.bias ? init.bias : undefined, rows, dim, total, center, eps) }),
    tolerance: { abs, rel },
    gpuTolerance: { abs: 2 * abs, rel: 2 * rel },
  };
}

const APPLY_OPTIONS: Options[] = [
  { rows: 1, dim: 1, total: 1, dtype: 'f32', paramType: 'f32', center: false, bias: false, eps: 1e-6, seed: 21 },
  { rows: 12, dim: 8, total: 32, dtype: 'f32', paramType: 'f32', center: true, bias: true, eps: 1e-6, seed: 22 },
  { rows: 40, dim: 16, total: 64, dtype: 'f32', paramType: 'f32', center: false, bias: false, eps: 1e-5, seed: 23 },
  { rows: 33, dim: 24, total: 24, dtype: 'bf16', paramType: 'f32', center: true, bias: false, eps: 1e-6, seed: 24 },
  { rows: 17, dim: 520, total: 1040, dtype: 'bf16', paramType: 'bf16', center: true, bias: true, eps: 1e-6, seed: 25 },
  { rows: 130, dim: 40, total: 160, dtype: 'f32', paramType: 'bf16', center: false, bias: false, eps: 1e-6, seed: 26 },
  { rows: 0, dim: 4, total: 8, dtype: 'f32', paramType: 'f32', center: true, bias: false, eps: 1e-6, seed: 27 },
];

const cases: KernelCase[] = APPLY_OPTIONS.map(applyCase);

const normApply: KernelCases = { kernel: 'norm_apply', cases };
export default normApply;
