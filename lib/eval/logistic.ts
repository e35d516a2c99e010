/**
 * Multinomial logistic regression with L2 on the weights (not the bias), full batch, by L-BFGS
 * with a backtracking (Armijo) line search, in float64:
 *   f(W, b) = (1/n) sum_i -log softmax(x_i W + b)[y_i] + (l2 / 2) ||W||^2.
 * Parameters are packed as [W (dim x classes, row-major), b (classes)].
 */
import { Vit22bError } from '../runtime/errors';

export interface LogisticProblem {
  /** Row-major [n, dim] float64 features. */
  x: Float64Array;
  labels: Int32Array;
  n: number;
  dim: number;
  classes: number;
  l2: number;
}

export interface LogisticOptions {
  maxIter?: number;
  /** Stop when the gradient's max-norm falls below this. */
  tol?: number;
  /** L-BFGS memory. */
  memory?: number;
  /** Warm start (packed parameters). */
  init?: Float64Array;
}

export interface LogisticFit {
  params: Float64Array;
  /** The objective before the first step and after every accepted step (non-increasing). */
  objective: number[];
  gradMaxNorm: number;
  iterations: number;
  converged: boolean;
}

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

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; ++i) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

export function fitLogistic(p: LogisticProblem, o: LogisticOptions = {}): LogisticFit {
  if (!(p.l2 >= 0) || !Number.isFinite(p.l2)) throw new Vit22bError('ERR_INVALID_ARGUMENT', 'logistic regression: l2 must be finite and >= 0', { expected: '>= 0', received: String(p.l2) });
  const maxIter = o.maxIter ?? 200;
  const tol = o.tol ?? 1e-6;
  const mem = o.memory ?? 10;
  const size = paramCount(p);
  const w = o.init ? Float64Array.from(o.init) : new Float64Array(size);
  const g = new Float64Array(size);
  let f = logisticObjective(p, w, g);
  const objective = [f];
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const wNew = new Float64Array(size);
  const gNew = new Float64Array(size);
  let it = 0;
  for (; it < maxIter && maxAbs(g) > tol; ++it) {
    // Two-loop recursion: d = -H g.
    const q = Float64Array.from(g);
    const alpha: number[] = [];
    for (let t = S.length - 1; t >= 0; --t) {
      alpha[t] = rho[t]! * dot(S[t]!, q);
      for (let i = 0; i < size; ++i) q[i]! -= alpha[t]! * Y[t]![i]!;
    }
    // Initial Hessian scale: s'y / y'y of the newest pair, else a step of length 1.
    const gamma = S.length ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-300);
    for (let i = 0; i < size; ++i) q[i]! *= gamma;
    for (let t = 0; t < S.length; ++t) {
      const beta = rho[t]! * dot(Y[t]!, q);
      for (let i = 0; i < size; ++i) q[i]! += S[t]![i]! * (alpha[t]! - beta);
    }
    for (let i = 0; i < size; ++i) q[i] = -q[i]!;
    let slope = dot(g, q);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < size; ++i) q[i] = -g[i]! * gamma;
      slope = dot(g, q);
    }
    let step = 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 50; ++tries, step *= 0.5) {
      for (let i = 0; i < size; ++i) wNew[i] = w[i]! + step * q[i]!;
      fNew = logisticObjective(p, wNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
    }
    if (!(fNew <= f)) break; // no decrease possible at this precision: w is as good as it gets
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; ++i) {
      s[i] = wNew[i]! - w[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    // Keep only pairs with positive curvature, so the implicit Hessian stays positive definite.
    if (sy > 1e-12 * Math.sqrt(dot(y, y) * dot(s, s))) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      if (S.length > mem) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    w.set(wNew);
    g.set(gNew);
    f = fNew;
    objective.push(f);
  }
  const gradMaxNorm = maxAbs(g);
  return { params: w, objective, gradMaxNorm, iterations: it, converged: gradMaxNorm <= tol };
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
