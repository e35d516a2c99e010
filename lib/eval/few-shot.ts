/**
 * Few-shot evaluation as big_vision's fewshot evaluator does it: for each shot count k and seed,
 * draw k training examples per class, center the features on their mean, fit closed-form ridge
 * regression to centered one-hot labels, W = (X^T X + l2 I)^-1 X^T Y (Cholesky, float64), and
 * classify the test set by argmax. Accuracy is averaged over seeds.
 */
import { hashWords, Mulberry32 } from '../data/seeded-random';
import { Vit22bError } from '../runtime/errors';
import { argmaxRow, checkFeatures, cholesky, choleskySolve, columnStats, type FeatureMatrix } from './matrix';

export interface FewShotOptions {
  classes: number;
  shots: readonly number[];
  /** Seeds 0..seeds-1 (default 3). */
  seeds?: number;
  /** Ridge regularization (default 1). */
  l2?: number;
}

export interface FewShotRow {
  shots: number;
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

/** The ridge solution W [dim, classes] and the centering used, on the chosen rows. */
export function ridgeFit(train: FeatureMatrix, rows: Int32Array, classes: number, l2: number): { w: Float64Array; mean: Float64Array; yMean: Float64Array } {
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
  // A = X^T X + l2 I, B = X^T Y with Y the centered one-hot labels.
  const a = new Float64Array(d * d);
  const b = new Float64Array(d * classes);
  for (let i = 0; i < m; ++i) {
    const row = i * d;
    const label = train.labels[rows[i]!]!;
    for (let p = 0; p < d; ++p) {
      const v = x[row + p]!;
      for (let q = 0; q <= p; ++q) a[p * d + q]! += v * x[row + q]!;
      for (let c = 0; c < classes; ++c) b[p * classes + c]! += v * ((c === label ? 1 : 0) - yMean[c]!);
    }
  }
  for (let p = 0; p < d; ++p) {
    a[p * d + p]! += l2;
    for (let q = 0; q < p; ++q) a[q * d + p] = a[p * d + q]!;
  }
  cholesky(a, d);
  choleskySolve(a, d, b, classes);
  return { w: b, mean, yMean };
}

/** Test accuracy of a ridge fit: argmax over (x - mean) W + mean(Y). */
export function ridgeAccuracy(test: FeatureMatrix, fit: { w: Float64Array; mean: Float64Array; yMean: Float64Array }, classes: number): number {
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

export function fewShot(train: FeatureMatrix, test: FeatureMatrix, o: FewShotOptions): FewShotRow[] {
  checkFeatures('few-shot train', train, o.classes);
  checkFeatures('few-shot test', test, o.classes);
  if (train.dim !== test.dim) throw new Vit22bError('ERR_SHAPE_MISMATCH', 'few-shot: train and test features differ in width', { expected: String(train.dim), received: String(test.dim) });
  const seeds = o.seeds ?? 3;
  const l2 = o.l2 ?? 1;
  if (!Number.isSafeInteger(seeds) || seeds < 1) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: seeds must be an integer >= 1', { expected: '>= 1', received: String(seeds) });
  if (!(l2 > 0) || !Number.isFinite(l2)) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: l2 must be positive and finite', { expected: '> 0', received: String(l2) });
  return o.shots.map((k) => {
    if (!Number.isSafeInteger(k) || k < 1) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'few-shot: shot counts must be integers >= 1', { expected: '>= 1', received: String(k) });
    const accuracies = Array.from({ length: seeds }, (_, seed) => ridgeAccuracy(test, ridgeFit(train, sampleShots(train.labels, o.classes, k, seed), o.classes, l2), o.classes));
    const mean = accuracies.reduce((a, b) => a + b, 0) / seeds;
    const std = Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / seeds);
    return { shots: k, accuracies, mean, std };
  });
}
