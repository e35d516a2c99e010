/**
 * Multinomial logistic regression with L2 on the weights (not the bias), full batch, by L-BFGS
 * (lbfgs.ts). The objective, here in float64 on the host (the reference; device-logistic.ts runs
 * the data term through the graph compiler's kernels):
 *   f(W, b) = (1/n) sum_i -log softmax(x_i W + b)[y_i] + (l2 / 2) ||W||^2.
 * Parameters are packed as [W (dim x classes, row-major), b (classes)].
 */
import { Vit22bError } from '../runtime/errors';
import { minimizeLbfgs, type LbfgsOptions, type LbfgsResult, type Objective } from './lbfgs';

export interface LogisticProblem {
  /** Row-major [n, dim] float64 features. */
  x: Float64Array;
  labels: Int32Array;
  n: number;
  dim: number;
  classes: number;
  l2: number;
}

export type LogisticOptions = LbfgsOptions;
export type LogisticFit = LbfgsResult;

export function paramCount(p: Pick<LogisticProblem, 'dim' | 'classes'>): number {
  return (p.dim + 1) * p.classes;
}

/** Logits [n, classes] of packed parameters. */
export function logisticScores(x: Float64Array, n: number, dim: number, classes: number, params: Float64Array): Float64Array {
  const s = new Float64Array(n * classes);
  const b = dim * classes;
  for (let i = 0; i < n; ++i) {
    const row = i * classes;
    for (let c = 0; c < classes; ++c) s[row + c] = params[b + c]!;
    for (let j = 0; j < dim; ++j) {
      const v = x[i * dim + j]!;
      if (v === 0) continue;
      const w = j * classes;
      for (let c = 0; c < classes; ++c) s[row + c]! += v * params[w + c]!;
    }
  }
  return s;
}

/** The objective and its gradient (into `grad`). */
export function logisticObjective(p: LogisticProblem, params: Float64Array, grad: Float64Array): number {
  const { x, labels, n, dim, classes: k, l2 } = p;
  const s = logisticScores(x, n, dim, k, params);
  grad.fill(0);
  let loss = 0;
  const bias = dim * k;
  for (let i = 0; i < n; ++i) {
    const row = i * k;
    let m = -Infinity;
    for (let c = 0; c < k; ++c) m = Math.max(m, s[row + c]!);
    let z = 0;
    for (let c = 0; c < k; ++c) z += Math.exp(s[row + c]! - m);
    loss += m + Math.log(z) - s[row + labels[i]!]!;
    // d loss_i / d logits = softmax - onehot, reused in place.
    for (let c = 0; c < k; ++c) s[row + c] = Math.exp(s[row + c]! - m) / z;
    s[row + labels[i]!]! -= 1;
    for (let c = 0; c < k; ++c) grad[bias + c]! += s[row + c]!;
    for (let j = 0; j < dim; ++j) {
      const v = x[i * dim + j]!;
      if (v === 0) continue;
      for (let c = 0; c < k; ++c) grad[j * k + c]! += v * s[row + c]!;
    }
  }
  let reg = 0;
  for (let t = 0; t < grad.length; ++t) grad[t]! /= n;
  for (let t = 0; t < bias; ++t) {
    reg += params[t]! * params[t]!;
    grad[t]! += l2 * params[t]!;
  }
  return loss / n + 0.5 * l2 * reg;
}

export function checkL2(l2: number): void {
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'logistic regression: l2 must be finite and >= 0', { expected: '>= 0', received: String(l2) });
}

/** The float64 host objective: exact enough that the solver treats it as exact (epsilon 0). */
export function hostLogisticObjective(p: LogisticProblem): Objective {
  checkL2(p.l2);
  return { size: paramCount(p), epsilon: 0, evaluate: (params, grad) => logisticObjective(p, params, grad) };
}

/**
 * Fits by L-BFGS on any objective of packed [W, b] (hostLogisticObjective, or the device one of
 * device-logistic.ts); a LogisticProblem is fitted with the float64 host objective.
 */
export async function fitLogistic(objective: Objective | LogisticProblem, o: LogisticOptions = {}): Promise<LogisticFit> {
  return minimizeLbfgs('evaluate' in objective ? objective : hostLogisticObjective(objective), o);
}

/** Fraction of rows whose argmax score is their label. */
export function accuracyOf(scores: Float64Array, labels: Int32Array, classes: number): number {
  let right = 0;
  for (let i = 0; i < labels.length; ++i) {
    let best = 0;
    for (let c = 1; c < classes; ++c) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}
