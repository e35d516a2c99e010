/**
 * The linear probe: standardize features with the training split's statistics, choose L2 from a
 * grid by accuracy on a held-out 10% of train, refit on all of train, report test accuracy.
 */
import { Mulberry32 } from '../data/seeded-random';
import { Vit22bError } from '../runtime/errors';
import { accuracyOf, fitLogistic, logisticScores, type LogisticOptions } from './logistic';
import { checkFeatures, columnStats, standardize, type FeatureMatrix } from './matrix';

export const DEFAULT_L2_GRID: readonly number[] = [1e-5, 1e-4, 1e-3, 1e-2];

export interface LinearProbeOptions extends LogisticOptions {
  classes: number;
  l2Grid?: readonly number[];
  /** Fraction of train held out to choose L2 (default 0.1). */
  holdout?: number;
  seed?: number;
}

export interface LinearProbeResult {
  testAccuracy: number;
  trainAccuracy: number;
  l2: number;
  /** Held-out accuracy for each L2 of the grid. */
  validation: { l2: number; accuracy: number }[];
  iterations: number;
  converged: boolean;
}

function rows(f: FeatureMatrix, idx: Uint32Array): FeatureMatrix {
  const x = new Float64Array(idx.length * f.dim);
  const labels = new Int32Array(idx.length);
  idx.forEach((r, i) => {
    for (let j = 0; j < f.dim; ++j) x[i * f.dim + j] = f.x[r * f.dim + j]!;
    labels[i] = f.labels[r]!;
  });
  return { n: idx.length, dim: f.dim, x, labels };
}

/** Fits on `fit` (standardized by its own statistics) and returns the params and a scorer. */
function fitStandardized(fit: FeatureMatrix, l2: number, o: LinearProbeOptions) {
  const stats = columnStats(fit.x, fit.n, fit.dim);
  const x = standardize(fit.x, fit.n, fit.dim, stats);
  const r = fitLogistic({ x, labels: fit.labels, n: fit.n, dim: fit.dim, classes: o.classes, l2 }, o);
  const accuracy = (f: FeatureMatrix): number => accuracyOf(logisticScores(standardize(f.x, f.n, f.dim, stats), f.n, f.dim, o.classes, r.params), f.labels, o.classes);
  return { ...r, accuracy };
}

export function linearProbe(train: FeatureMatrix, test: FeatureMatrix, o: LinearProbeOptions): LinearProbeResult {
  checkFeatures('linear probe train', train, o.classes);
  checkFeatures('linear probe test', test, o.classes);
  if (train.dim !== test.dim) throw new Vit22bError('ERR_SHAPE_MISMATCH', 'linear probe: train and test features differ in width', { expected: String(train.dim), received: String(test.dim) });
  const grid = [...(o.l2Grid ?? DEFAULT_L2_GRID)].sort((a, b) => a - b);
  if (grid.length === 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'linear probe: the L2 grid is empty', { expected: 'one value or more', received: '[]' });
  const holdout = o.holdout ?? 0.1;
  let best = grid[0]!;
  const validation: { l2: number; accuracy: number }[] = [];
  const nVal = Math.floor(train.n * holdout);
  if (grid.length > 1 && nVal >= 1 && nVal < train.n) {
    // A seeded shuffle, so the held-out part is a random 10%, not the tail of an ordered split.
    const order = Uint32Array.from({ length: train.n }, (_, i) => i);
    const rng = new Mulberry32(o.seed ?? 0);
    for (let i = order.length - 1; i > 0; --i) {
      const j = rng.nextU32() % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const val = rows(train, order.subarray(0, nVal));
    const fit = rows(train, order.subarray(nVal));
    let bestAcc = -1;
    for (const l2 of grid) {
      const accuracy = fitStandardized(fit, l2, o).accuracy(val);
      validation.push({ l2, accuracy });
      // Ties go to the larger L2 (the simpler model): the grid is scanned upward.
      if (accuracy >= bestAcc) [best, bestAcc] = [l2, accuracy];
    }
  }
  const r = fitStandardized(train, best, o);
  return { testAccuracy: r.accuracy(test), trainAccuracy: r.accuracy(train), l2: best, validation, iterations: r.iterations, converged: r.converged };
}
