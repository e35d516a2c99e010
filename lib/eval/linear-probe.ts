/**
 * The linear probe: standardize features with the training split's statistics, choose L2 from a
 * grid by accuracy on a held-out 10% of train, refit on all of train, report test accuracy.
 *
 * The objective's data term runs on `device` when one is given (float32, through the graph
 * compiler's kernels: device-logistic.ts), else in float64 on the host (the reference). The data
 * go to the device once per training set (one program for the 90% fit part, serving every L2 of
 * the grid, then one for all of train). Each fit warm-starts from the previous one (the grid
 * point below, then the chosen L2's fit on the 90%), which saves most iterations. Accuracies are
 * scored on the host in float64, row by row, without a standardized copy of the data.
 */
import { Mulberry32 } from '../data/seeded-random';
import type { Device } from '../runtime/device';
import { Vit22bError } from '../runtime/errors';
import { DeviceLogisticData } from './device-logistic';
import { fitLogistic, type LogisticFit, type LogisticOptions } from './logistic';
import { argmaxRow, checkFeatures, columnStats, standardize, type FeatureMatrix } from './matrix';

export const DEFAULT_L2_GRID: readonly number[] = [1e-5, 1e-4, 1e-3, 1e-2];

export interface LinearProbeOptions extends Omit<LogisticOptions, 'init'> {
  classes: number;
  l2Grid?: readonly number[];
  /** Fraction of train held out to choose L2 (default 0.1). */
  holdout?: number;
  seed?: number;
  /** Run the objective's data term on this device (float32); default: float64 on the host. */
  device?: Device;
}

export interface LinearProbeResult {
  testAccuracy: number;
  trainAccuracy: number;
  l2: number;
  /** Held-out accuracy for each L2 of the grid. */
  validation: { l2: number; accuracy: number }[];
  /** Iterations of the final fit (on all of train). */
  iterations: number;
  converged: boolean;
  /** Objective evaluations over every fit (grid and final). */
  evaluations: number;
  /** 'host' (float64) or the device's name (float32 data term). */
  solver: string;
}

type Stats = { mean: Float64Array; std: Float64Array };

/** The chosen rows, in the features' own precision (float64 input stays float64 on the host path). */
function rows(f: FeatureMatrix, idx: Uint32Array): FeatureMatrix {
  const x = f.x instanceof Float64Array ? new Float64Array(idx.length * f.dim) : new Float32Array(idx.length * f.dim);
  const labels = new Int32Array(idx.length);
  idx.forEach((r, i) => {
    x.set(f.x.subarray(r * f.dim, (r + 1) * f.dim), i * f.dim);
    labels[i] = f.labels[r]!;
  });
  return { n: idx.length, dim: f.dim, x, labels };
}

/** Accuracy of packed [W, b] on f standardized by `stats`, one row at a time, in float64. */
function probeAccuracy(f: FeatureMatrix, stats: Stats, params: Float64Array, classes: number): number {
  const d = f.dim;
  const s = new Float64Array(classes);
  const z = new Float64Array(d);
  let right = 0;
  for (let i = 0; i < f.n; ++i) {
    for (let j = 0; j < d; ++j) z[j] = (f.x[i * d + j]! - stats.mean[j]!) / stats.std[j]!;
    s.set(params.subarray(d * classes));
    for (let j = 0; j < d; ++j) {
      const v = z[j]!;
      if (v === 0) continue;
      for (let c = 0; c < classes; ++c) s[c]! += v * params[j * classes + c]!;
    }
    if (argmaxRow(s, 0, classes) === f.labels[i]) right++;
  }
  return right / f.n;
}

/**
 * The data of one training set, standardized by its own statistics, ready to be fitted at any L2:
 * on the device (the program holds the data) or on the host (a float64 copy).
 */
function fitter(data: FeatureMatrix, o: LinearProbeOptions) {
  const stats = columnStats(data.x, data.n, data.dim);
  const base = { n: data.n, dim: data.dim, classes: o.classes, labels: data.labels };
  const onDevice = o.device ? new DeviceLogisticData(o.device, standardize(data.x, data.n, data.dim, stats, Float32Array), data.labels, data.n, data.dim, o.classes) : undefined;
  const hostX = onDevice ? undefined : standardize(data.x, data.n, data.dim, stats);
  const fit = (l2: number, init?: Float64Array): Promise<LogisticFit> =>
    fitLogistic(onDevice ? onDevice.objective(l2) : { ...base, x: hostX!, l2 }, { ...o, init });
  return { stats, fit, dispose: () => onDevice?.dispose() };
}

export async function linearProbe(train: FeatureMatrix, test: FeatureMatrix, o: LinearProbeOptions): Promise<LinearProbeResult> {
  checkFeatures('linear probe train', train, o.classes);
  checkFeatures('linear probe test', test, o.classes);
  if (train.dim !== test.dim) throw new Vit22bError('ERR_SHAPE_MISMATCH', 'linear probe: train and test features differ in width', { expected: String(train.dim), received: String(test.dim) });
  const grid = [...(o.l2Grid ?? DEFAULT_L2_GRID)].sort((a, b) => a - b);
  if (grid.length === 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'linear probe: the L2 grid is empty', { expected: 'one value or more', received: '[]' });
  const holdout = o.holdout ?? 0.1;
  let best = grid[0]!;
  let init: Float64Array | undefined;
  let evaluations = 0;
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
    const part = fitter(rows(train, order.subarray(nVal)), o);
    try {
      let bestAcc = -1;
      let previous: Float64Array | undefined;
      for (const l2 of grid) {
        const r = await part.fit(l2, previous);
        evaluations += r.evaluations;
        previous = r.params;
        const accuracy = probeAccuracy(val, part.stats, r.params, o.classes);
        validation.push({ l2, accuracy });
        // Ties go to the larger L2 (the simpler model): the grid is scanned upward.
        if (accuracy >= bestAcc) [best, bestAcc, init] = [l2, accuracy, r.params];
      }
    } finally {
      part.dispose();
    }
  }
  const all = fitter(train, o);
  try {
    const r = await all.fit(best, init);
    evaluations += r.evaluations;
    const accuracy = (f: FeatureMatrix) => probeAccuracy(f, all.stats, r.params, o.classes);
    return {
      testAccuracy: accuracy(test),
      trainAccuracy: accuracy(train),
      l2: best,
      validation,
      iterations: r.iterations,
      converged: r.converged,
      evaluations,
      solver: o.device ? o.device.name : 'host',
    };
  } finally {
    all.dispose();
  }
}
