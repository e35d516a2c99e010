/**
 * The small dense float64 helpers the probe and few-shot solvers share: a feature matrix type,
 * standardization, and a Cholesky solve. Float64 because the normal equations square the
 * condition number of the features, and float32 loses the few-shot solution on correlated features.
 */
import { Vit22bError } from '../runtime/errors';

/** Row-major [n, dim] features with one label per row. */
export interface FeatureMatrix {
  n: number;
  dim: number;
  x: Float32Array | Float64Array;
  labels: Int32Array;
}

export function checkFeatures(name: string, f: FeatureMatrix, classes: number): void {
  if (!Number.isSafeInteger(f.n) || !Number.isSafeInteger(f.dim) || f.n < 1 || f.dim < 1 || f.x.length !== f.n * f.dim) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', `${name}: features must be [n, dim] with n, dim >= 1`, { expected: `${f.n} * ${f.dim} values`, received: String(f.x.length) });
  }
  if (f.labels.length !== f.n) throw new Vit22bError('ERR_SHAPE_MISMATCH', `${name}: one label per row`, { expected: String(f.n), received: String(f.labels.length) });
  const bad = f.labels.findIndex((l) => !(l >= 0 && l < classes));
  if (bad >= 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', `${name}: label of row ${bad} is out of range`, { expected: `0..${classes - 1}`, received: String(f.labels[bad]) });
}

/** Per-column mean and standard deviation (a constant column gets std 1, so it maps to 0). */
export function columnStats(x: ArrayLike<number>, n: number, dim: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let i = 0; i < n; ++i) for (let j = 0; j < dim; ++j) mean[j]! += x[i * dim + j]!;
  for (let j = 0; j < dim; ++j) mean[j]! /= n;
  for (let i = 0; i < n; ++i) {
    for (let j = 0; j < dim; ++j) {
      const d = x[i * dim + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < dim; ++j) {
    const s = Math.sqrt(std[j]! / n);
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

/** (x - mean) / std per column, as float64 (or float32 for a device, when given that type). */
export function standardize(x: ArrayLike<number>, n: number, dim: number, s: { mean: Float64Array; std?: Float64Array }): Float64Array;
export function standardize<T extends Float32Array | Float64Array>(x: ArrayLike<number>, n: number, dim: number, s: { mean: Float64Array; std?: Float64Array }, type: new (length: number) => T): T;
export function standardize(x: ArrayLike<number>, n: number, dim: number, s: { mean: Float64Array; std?: Float64Array }, type: new (length: number) => Float32Array | Float64Array = Float64Array): Float32Array | Float64Array {
  const out = new type(n * dim);
  for (let i = 0; i < n; ++i) for (let j = 0; j < dim; ++j) out[i * dim + j] = (x[i * dim + j]! - s.mean[j]!) / (s.std ? s.std[j]! : 1);
  return out;
}

/** In place: a (symmetric positive definite, [d, d]) becomes its lower Cholesky factor L. */
export function cholesky(a: Float64Array, d: number): void {
  for (let j = 0; j < d; ++j) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; ++k) s -= a[j * d + k]! * a[j * d + k]!;
    if (!(s > 0)) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'cholesky: the matrix is not positive definite (raise the L2 regularization)', { expected: 'positive pivots', received: `pivot ${j} = ${s}` });
    const l = Math.sqrt(s);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; ++i) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; ++k) t -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = t / l;
    }
    for (let k = j + 1; k < d; ++k) a[j * d + k] = 0;
  }
}

/** Solves (L L^T) X = B in place in b ([d, m], row-major) given the factor L from cholesky. */
export function choleskySolve(l: Float64Array, d: number, b: Float64Array, m: number): void {
  for (let i = 0; i < d; ++i) {
    for (let k = 0; k < i; ++k) for (let c = 0; c < m; ++c) b[i * m + c]! -= l[i * d + k]! * b[k * m + c]!;
    for (let c = 0; c < m; ++c) b[i * m + c]! /= l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; --i) {
    for (let k = i + 1; k < d; ++k) for (let c = 0; c < m; ++c) b[i * m + c]! -= l[k * d + i]! * b[k * m + c]!;
    for (let c = 0; c < m; ++c) b[i * m + c]! /= l[i * d + i]!;
  }
}

/** Index of the largest of row i of [n, m] scores. */
export function argmaxRow(s: Float64Array, i: number, m: number): number {
  let best = 0;
  for (let c = 1; c < m; ++c) if (s[i * m + c]! > s[i * m + best]!) best = c;
  return best;
}
