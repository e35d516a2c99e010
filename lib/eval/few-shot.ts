/**
 * Few-shot evaluation as big_vision's fewshot evaluator does it: for each shot count k and seed,
 * draw k training examples per class, center the features on their mean, fit closed-form ridge
 * regression to centered one-hot labels, W = (X^T X + l2 I)^-1 X^T Y (Cholesky, float64), and
 * classify the test set by argmax. Accuracy is averaged over seeds.
 *
 * The Gram matrices and the scores run on a device when one is given (f32 GEMM: ridge-backend.ts),
 * else in float64 on the host (the reference); the test set goes to the device once per call.
 *
 * L2: fixed by `l2`, or chosen per shot count from `l2Grid` (default 2^-4 .. 2^14, the powers of
 * 2) by the mean over seeds of the accuracy on a validation sample of TRAIN images disjoint from
 * that seed's support set (`validation` images, default 2,000, drawn by (seed, k)); never on test.
 * Ties go to the larger L2. The Gram matrix is formed once per (k, seed) and reused for every L2.
 */
import { hashWords, Mulberry32 } from '../data/seeded-random';
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { argmaxRow, checkFeatures, cholesky, choleskySolve, columnStats, type FeatureMatrix } from './matrix';
import { deviceRidge, hostRidge, type RidgeBackend, type RidgeScorer } from './ridge-backend';

/** 2^-4 .. 2^14. */
export const FEWSHOT_L2_GRID: readonly number[] = Array.from({ length: 19 }, (_, i) => 2 ** (i - 4));

export interface FewShotOptions {
  classes: number;
  shots: readonly number[];
  /** Seeds 0..seeds-1 (default 3). */
  seeds?: number;
  /** A fixed ridge regularization (no validation search). */
  l2?: number;
  /** Grid searched per shot count when l2 is not given (default FEWSHOT_L2_GRID). */
  l2Grid?: readonly number[];
  /** Size of the validation sample drawn from train (default 2,000; fewer if train is small). */
  validation?: number;
  /** Run the Gram matrices and scores here (f32 GEMM); default: float64 on the host. */
  device?: Device;
}

export interface FewShotRow {
  shots: number;
  /** The L2 used (given, or chosen on the validation sample). */
  l2: number;
  /** Mean validation accuracy over seeds for each L2 of the grid (empty when l2 was given). */
  validation: { l2: number; accuracy: number }[];
  accuracies: number[];
  mean: number;
  /** Population standard deviation over seeds. */
  std: number;
}

/** Indices of k examples of each class, drawn without replacement by (seed, k). */
export function sampleShots(labels: Int32Array, classes: number, k: number, seed: number): Int32Array {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((l, i) => byClass[l]!.push(i));
  const rng = new Mulberry32(hashWords(seed, k, 0x5e7));
  const out: number[] = [];
  byClass.forEach((idx, c) => {
    if (idx.length < k) throw new Vit22bError('ERR_INVALID_ARGUMENT', `few-shot: class ${c} has ${idx.length} training examples, fewer than ${k} shots`, { expected: `>= ${k}`, received: String(idx.length) });
    // A partial Fisher-Yates shuffle: the first k are a uniform sample.
    for (let i = 0; i < k; ++i) {
      const j = i + (rng.nextU32() % (idx.length - i));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      out.push(idx[i]!);
    }
  });
  return Int32Array.from(out);
}

export interface RidgeFit {
  /** [dim, classes] */
  w: Float64Array;
  mean: Float64Array;
  yMean: Float64Array;
}

/** The centered support rows, their centered one-hot labels, and the Gram matrices. */
export function ridgeSystem(train: FeatureMatrix, rows: Int32Array, classes: number, backend: RidgeBackend = hostRidge) {
  const { dim: d } = train;
  const m = rows.length;
  const x = new Float64Array(m * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; ++j) x[i * d + j] = train.x[r * d + j]!;
  });
  const { mean } = columnStats(x, m, d);
  for (let i = 0; i < m; ++i) for (let j = 0; j < d; ++j) x[i * d + j]! -= mean[j]!;
  const yMean = new Float64Array(classes);
  rows.forEach((r) => (yMean[train.labels[r]!]! += 1 / m));
  const y = new Float64Array(m * classes);
  rows.forEach((r, i) => {
    for (let c = 0; c < classes; ++c) y[i * classes + c] = (c === train.labels[r] ? 1 : 0) - yMean[c]!;
  });
  // A = X^T X, B = X^T Y with Y the centered one-hot labels.
  const { a, b } = backend.gram(x, y, m, d, classes);
  return { a, b, mean, yMean, d, classes };
}

/** W = (A + l2 I)^-1 B by Cholesky in float64; the system is left as it was. */
export function ridgeSolve(sys: ReturnType<typeof ridgeSystem>, l2: number): RidgeFit {
  const { d, classes } = sys;
  const a = new Float64Array(d * d);
  for (let p = 0; p < d; ++p) {
    for (let q = 0; q <= p; ++q) a[p * d + q] = a[q * d + p] = sys.a[p * d + q]!;
    a[p * d + p]! += l2;
  }
  const w = Float64Array.from(sys.b);
  cholesky(a, d);
  choleskySolve(a, d, w, classes);
  return { w, mean: sys.mean, yMean: sys.yMean };
}

/** The ridge solution W [dim, classes] and the centering used, on the chosen rows. */
export function ridgeFit(train: FeatureMatrix, rows: Int32Array, classes: number, l2: number, backend: RidgeBackend = hostRidge): RidgeFit {
  return ridgeSolve(ridgeSystem(train, rows, classes, backend), l2);
}

/** (x - mean) W + mean(Y) = x W + offset: the per-class offset of a fit. */
export function ridgeOffset(fit: RidgeFit, classes: number): Float64Array {
  const offset = Float64Array.from(fit.yMean);
  fit.mean.forEach((m, j) => {
    for (let c = 0; c < classes; ++c) offset[c]! -= m * fit.w[j * classes + c]!;
  });
  return offset;
}

/** Test accuracy of a ridge fit: argmax over (x - mean) W + mean(Y). */
export function ridgeAccuracy(test: FeatureMatrix, fit: RidgeFit, classes: number): number {
  const d = test.dim;
  const s = new Float64Array(classes);
  let right = 0;
  for (let i = 0; i < test.n; ++i) {
    s.set(fit.yMean);
    for (let j = 0; j < d; ++j) {
      const v = test.x[i * d + j]! - fit.mean[j]!;
      for (let c = 0; c < classes; ++c) s[c]! += v * fit.w[j * classes + c]!;
    }
    if (argmaxRow(s, 0, classes) === test.labels[i]) right++;
  }
  return right / test.n;
}

/** `count` train rows not in the support set, drawn by (seed, k): the validation sample. */
export function sampleValidation(n: number, support: Int32Array, count: number, seed: number, k: number): Int32Array {
  const taken = new Uint8Array(n);
  support.forEach((r) => (taken[r] = 1));
  const pool = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !taken[i]);
  const size = Math.min(count, pool.length);
  const rng = new Mulberry32(hashWords(seed, k, 0x7a1));
  for (let i = 0; i < size; ++i) {
    const j = i + (rng.nextU32() % (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, size);
}

function subset(f: FeatureMatrix, rows: Int32Array): FeatureMatrix {
  const x = f.x instanceof Float64Array ? new Float64Array(rows.length * f.dim) : new Float32Array(rows.length * f.dim);
  rows.forEach((r, i) => x.set(f.x.subarray(r * f.dim, (r + 1) * f.dim), i * f.dim));
  return { n: rows.length, dim: f.dim, x, labels: Int32Array.from(rows, (r) => f.labels[r]!) };
}

function checkOptions(train: FeatureMatrix, test: FeatureMatrix, o: FewShotOptions) {
  checkFeatures('few-shot train', train, o.classes);
  checkFeatures('few-shot test', test, o.classes);
  if (train.dim !== test.dim) throw new Vit22bError('ERR_SHAPE_MISMATCH', 'few-shot: train and test features differ in width', { expected: String(train.dim), received: String(test.dim) });
  const seeds = o.seeds ?? 3;
  if (!Number.isSafeInteger(seeds) || seeds < 1) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: seeds must be an integer >= 1', { expected: '>= 1', received: String(seeds) });
  const grid = o.l2 !== undefined ? [o.l2] : [...(o.l2Grid ?? FEWSHOT_L2_GRID)].sort((a, b) => a - b);
  if (grid.length === 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: the L2 grid is empty', { expected: 'one value or more', received: '[]' });
  for (const l2 of grid) if (!(l2 > 0) || !Number.isFinite(l2)) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: l2 must be positive and finite', { expected: '> 0', received: String(l2) });
  const validation = o.validation ?? 2000;
  if (!Number.isSafeInteger(validation) || validation < 1) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: the validation sample must be an integer >= 1', { expected: '>= 1', received: String(validation) });
  for (const k of o.shots) if (!Number.isSafeInteger(k) || k < 1) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: shot counts must be integers >= 1', { expected: '>= 1', received: String(k) });
  return { seeds, grid, validation };
}

export function fewShot(train: FeatureMatrix, test: FeatureMatrix, o: FewShotOptions): FewShotRow[] {
  const { seeds, grid, validation } = checkOptions(train, test, o);
  const backend = o.device ? deviceRidge(o.device) : hostRidge;
  const score = (scorer: RidgeScorer, fit: RidgeFit) => scorer.accuracy(fit.w, ridgeOffset(fit, o.classes));
  using testScorer = backend.scorer(test, o.classes);
  return o.shots.map((k) => {
    const systems = Array.from({ length: seeds }, (_, seed) => {
      const support = sampleShots(train.labels, o.classes, k, seed);
      return { support, sys: ridgeSystem(train, support, o.classes, backend) };
    });
    let l2 = grid[0]!;
    const table: { l2: number; accuracy: number }[] = [];
    if (o.l2 === undefined && grid.length > 1) {
      const sums = new Float64Array(grid.length);
      systems.forEach(({ support, sys }, seed) => {
        using val = backend.scorer(subset(train, sampleValidation(train.n, support, validation, seed, k)), o.classes);
        grid.forEach((g, i) => (sums[i]! += score(val, ridgeSolve(sys, g)) / seeds));
      });
      let best = -1;
      grid.forEach((g, i) => {
        table.push({ l2: g, accuracy: sums[i]! });
        // Ties go to the larger L2 (the grid is scanned upward).
        if (sums[i]! >= best) [l2, best] = [g, sums[i]!];
      });
    }
    const accuracies = systems.map(({ sys }) => score(testScorer, ridgeSolve(sys, l2)));
    const mean = accuracies.reduce((a, b) => a + b, 0) / seeds;
    const std = Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / seeds);
    return { shots: k, l2, validation: table, accuracies, mean, std };
  });
}
