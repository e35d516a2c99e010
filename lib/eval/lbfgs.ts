/**
 * L-BFGS with a backtracking (Armijo) line search, on an objective given as a function, so the
 * float64 host objective and the float32 device one (device-logistic.ts) share one solver.
 *
 * A float32 objective is only accurate to a few parts in 1e7, so the solver is told the objective's
 * relative accuracy (`epsilon`) and then:
 *   - accepts a step whose value is within that noise of the Armijo bound (otherwise the line
 *     search halves the step 50 times chasing rounding),
 *   - stops halving once the predicted decrease is below the noise (no decrease is measurable),
 *   - stops when an iteration's decrease is below `ftol` relative to |f| (scipy's rule, without
 *     its floor of 1: a cross-entropy of 0.004 is as accurate, relatively, as one of 2),
 *     accepting the point only if it did not increase f, so the objective never increases.
 * With epsilon 0 (the float64 host objective) these rules are off and only the gradient test and
 * a failed line search stop it, as before.
 */

export interface Objective {
  /** Number of packed parameters. */
  size: number;
  /** Relative accuracy of the value (0: treat as exact, e.g. float64 host loops). */
  epsilon: number;
  /** The value at `params`; the gradient is written into `grad`. */
  evaluate(params: Float64Array, grad: Float64Array): number | Promise<number>;
}

export interface LbfgsOptions {
  maxIter?: number;
  /** Stop when the gradient's max-norm falls below this (default 1e-6). */
  tol?: number;
  /** Stop when one iteration decreases f by at most ftol x |f| (default 10 x epsilon). */
  ftol?: number;
  /** L-BFGS memory (default 10). */
  memory?: number;
  /** Warm start (packed parameters). */
  init?: Float64Array;
}

export interface LbfgsResult {
  params: Float64Array;
  /** The objective before the first step and after every accepted step (non-increasing). */
  objective: number[];
  gradMaxNorm: number;
  iterations: number;
  /** Objective evaluations, line-search trials included. */
  evaluations: number;
  /** Stopped by the gradient test (not by maxIter, ftol or a failed line search). */
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; ++i) s += a[i]! * b[i]!;
  return s;
}

export function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** d = -H g by the two-loop recursion over the stored pairs. */
function direction(g: Float64Array, S: Float64Array[], Y: Float64Array[], rho: number[]): { q: Float64Array; gamma: number } {
  const size = g.length;
  const q = Float64Array.from(g);
  const alpha: number[] = [];
  for (let t = S.length - 1; t >= 0; --t) {
    alpha[t] = rho[t]! * dot(S[t]!, q);
    for (let i = 0; i < size; ++i) q[i]! -= alpha[t]! * Y[t]![i]!;
  }
  // Initial Hessian scale: s'y / y'y of the newest pair, else a step of length 1.
  const last = S.length - 1;
  const gamma = S.length ? dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-300);
  for (let i = 0; i < size; ++i) q[i]! *= gamma;
  for (let t = 0; t < S.length; ++t) {
    const beta = rho[t]! * dot(Y[t]!, q);
    for (let i = 0; i < size; ++i) q[i]! += S[t]![i]! * (alpha[t]! - beta);
  }
  for (let i = 0; i < size; ++i) q[i] = -q[i]!;
  return { q, gamma };
}

export async function minimizeLbfgs(objective: Objective, o: LbfgsOptions = {}): Promise<LbfgsResult> {
  const { size, epsilon } = objective;
  const maxIter = o.maxIter ?? 200;
  const tol = o.tol ?? 1e-6;
  const ftol = o.ftol ?? 10 * epsilon;
  const mem = o.memory ?? 10;
  const w = o.init ? Float64Array.from(o.init) : new Float64Array(size);
  const g = new Float64Array(size);
  let f = await objective.evaluate(w, g);
  let evaluations = 1;
  const objectiveTrace = [f];
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const wNew = new Float64Array(size);
  const gNew = new Float64Array(size);
  let it = 0;
  for (; it < maxIter && maxAbs(g) > tol; ++it) {
    let { q, gamma } = direction(g, S, Y, rho);
    let slope = dot(g, q);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      q = Float64Array.from(g, (v) => -v * gamma);
      slope = dot(g, q);
    }
    const noise = epsilon * Math.abs(f);
    let step = 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 50; ++tries, step *= 0.5) {
      for (let i = 0; i < size; ++i) wNew[i] = w[i]! + step * q[i]!;
      fNew = await objective.evaluate(wNew, gNew);
      evaluations++;
      if (fNew <= f + 1e-4 * step * slope + noise) break;
      // A smaller step would predict a decrease below what the objective can resolve.
      if (noise > 0 && -step * slope < noise) break;
    }
    if (!(fNew <= f)) break; // no decrease possible at this precision: w is as good as it gets
    const tiny = f - fNew <= ftol * Math.max(Math.abs(f), Math.abs(fNew));
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
    objectiveTrace.push(f);
    if (tiny) {
      ++it;
      break;
    }
  }
  const gradMaxNorm = maxAbs(g);
  return { params: w, objective: objectiveTrace, gradMaxNorm, iterations: it, evaluations, converged: gradMaxNorm <= tol };
}
