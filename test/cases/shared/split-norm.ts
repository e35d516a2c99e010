/**
 * What the cases of row_moments, row_moments_bwd, norm_apply and norm_apply_bwd share: inputs of a
 * norm over rows split by columns (a slice of `dim` columns of rows of `total`), the global moments
 * the all-reduce would give (float64 moments of whole random rows, rounded to f32), and norm_apply's
 * float64 forward from given moments.
 */
import { rng } from '../case-kit';

export type DT = 'f32' | 'bf16';

/** rows x n values around a per-row offset in [-1, 1), spread +-[0, 2): a residual stream's rows. */
export function rowValues(rows: number, n: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(rows * n);
  for (let i = 0; i < rows; i++) {
    const offset = 2 * r() - 1;
    for (let j = 0; j < n; j++) out[i * n + j] = offset + 4 * r() - 2;
  }
  return out;
}

/**
 * Global moments [rows, 2] (f32-rounded) of whole rows whose first `dim` columns are `x` (as
 * rounded for the kernel) and whose other total - dim columns are drawn here: the sums a rank
 * receives from the all-reduce.
 */
export function globalMoments(x: ArrayLike<number>, rows: number, dim: number, total: number, seed: number): Float64Array {
  const rest = rowValues(rows, total - dim, seed);
  const out = new Float64Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < dim; j++) {
      s1 += x[i * dim + j]!;
      s2 += x[i * dim + j]! ** 2;
    }
    for (let j = 0; j < total - dim; j++) {
      s1 += rest[i * (total - dim) + j]!;
      s2 += rest[i * (total - dim) + j]! ** 2;
    }
    out[2 * i] = Math.fround(s1);
    out[2 * i + 1] = Math.fround(s2);
  }
  return out;
}

/** mu and rstd of row i from the moments, in float64 (norm_apply's formulas). */
export function rowStats(stats: ArrayLike<number>, i: number, total: number, center: boolean, eps: number): { mu: number; rstd: number } {
  const mu = center ? stats[2 * i]! / total : 0;
  const v = Math.max(stats[2 * i + 1]! / total - mu * mu, 0);
  return { mu, rstd: 1 / Math.sqrt(v + eps) };
}

/** norm_apply in float64: y = (x - mu) rstd scale (+ bias). */
export function normApplyRef(
  x: ArrayLike<number>, stats: ArrayLike<number>, scale: ArrayLike<number>, bias: ArrayLike<number> | undefined,
  rows: number, dim: number, total: number, center: boolean, eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const { mu, rstd } = rowStats(stats, i, total, center, eps);
    for (let j = 0; j < dim; j++) y[i * dim + j] = (x[i * dim + j]! - mu) * rstd * scale[j]! + (bias ? bias[j]! : 0);
  }
  return y;
}

/** A case of norm_apply / norm_apply_bwd: a slice [rows, dim] of rows `total` wide. */
export interface SplitNormCase {
  rows: number;
  dim: number;
  total: number;
  dtype: DT;
  paramType: DT;
  center: boolean;
  bias: boolean;
  eps: number;
  seed: number;
}
