/**
 * lib/eval/logistic and linear-probe against answers computed another way: the gradient against
 * central differences; a symmetric 1-D two-class problem whose minimizer solves
 * l2 * a * (1 + e^{2a}) = 1 (found here by bisection); the gradient ~ 0 at the solution; a
 * non-increasing objective; 100% accuracy on a linearly separable set; L2 chosen on held-out data.
 */
import { fitLogistic, logisticObjective, paramCount, type LogisticProblem } from '../../lib/eval/logistic';
import { linearProbe } from '../../lib/eval/linear-probe';
import { Mulberry32 } from '../../lib/data/seeded-random';

function gaussian(rng: Mulberry32): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** Three classes around well-separated centres in `dim` dimensions. */
function blobs(n: number, dim: number, seed: number, spread = 0.3) {
  const rng = new Mulberry32(seed);
  const x = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    const c = i % 3;
    labels[i] = c;
    for (let j = 0; j < dim; ++j) x[i * dim + j] = (j === c ? 3 : 0) + 5 + spread * gaussian(rng);
  }
  return { n, dim, x, labels };
}

describe('logistic regression', () => {
  test('the gradient matches central differences', () => {
    const b = blobs(30, 4, 1, 1);
    const p: LogisticProblem = { ...b, classes: 3, l2: 0.1 };
    const rng = new Mulberry32(7);
    const w = Float64Array.from({ length: paramCount(p) }, () => gaussian(rng));
    const g = new Float64Array(w.length);
    logisticObjective(p, w, g);
    const scratch = new Float64Array(w.length);
    for (let t = 0; t < w.length; ++t) {
      const h = 1e-5;
      const plus = Float64Array.from(w);
      plus[t]! += h;
      const minus = Float64Array.from(w);
      minus[t]! -= h;
      const fd = (logisticObjective(p, plus, scratch) - logisticObjective(p, minus, scratch)) / (2 * h);
      expect(Math.abs(fd - g[t]!)).toBeLessThan(1e-7);
    }
  });

  test('a symmetric 1-D problem reaches its known minimizer', async () => {
    // x = +1 (class 1), x = -1 (class 0). By symmetry b0 = b1 and w1 = -w0 = a, and the objective
    // is log(1 + e^{-2a}) + l2 a^2, stationary where l2 a (1 + e^{2a}) = 1.
    const l2 = 0.05;
    const p: LogisticProblem = { x: Float64Array.of(1, -1), labels: Int32Array.of(1, 0), n: 2, dim: 1, classes: 2, l2 };
    let lo = 0;
    let hi = 10;
    for (let i = 0; i < 200; ++i) {
      const mid = (lo + hi) / 2;
      if (l2 * mid * (1 + Math.exp(2 * mid)) < 1) lo = mid;
      else hi = mid;
    }
    const r = await fitLogistic(p, { tol: 1e-12, maxIter: 500 });
    expect(r.converged).toBe(true);
    const [w0, w1, b0, b1] = r.params;
    expect(w1!).toBeCloseTo(lo, 9);
    expect(w0!).toBeCloseTo(-lo, 9);
    expect(b0! - b1!).toBeCloseTo(0, 9);
    expect(r.objective.at(-1)!).toBeCloseTo(Math.log(1 + Math.exp(-2 * lo)) + l2 * lo * lo, 12);
  });

  test('the objective never increases and the gradient vanishes at the solution', async () => {
    const b = blobs(90, 5, 2, 1.5);
    const r = await fitLogistic({ ...b, classes: 3, l2: 1e-2 }, { tol: 1e-6, maxIter: 1000 });
    expect(r.converged).toBe(true);
    expect(r.gradMaxNorm).toBeLessThan(1e-6);
    for (let i = 1; i < r.objective.length; ++i) expect(r.objective[i]!).toBeLessThanOrEqual(r.objective[i - 1]!);
    expect(r.objective.at(-1)!).toBeLessThan(r.objective[0]!);
  });
});

describe('linearProbe', () => {
  test('a linearly separable set is classified perfectly, train and test', async () => {
    const r = await linearProbe(blobs(150, 6, 3), blobs(60, 6, 4), { classes: 3 });
    expect(r.trainAccuracy).toBe(1);
    expect(r.testAccuracy).toBe(1);
    expect(r.validation).toHaveLength(4);
    expect(r.validation.every((v) => v.accuracy === 1)).toBe(true);
    // Every L2 ties on held-out accuracy, so the largest (simplest model) is chosen.
    expect(r.l2).toBe(1e-2);
  });

  test('labels that are noise give chance on test, and a huge L2 loses to a small one', async () => {
    const b = blobs(300, 3, 5, 0.8);
    const t = blobs(150, 3, 6, 0.8);
    const r = await linearProbe(b, t, { classes: 3, l2Grid: [1e3, 1e-3] });
    // With L2 = 1000 the weights are ~0 and the prediction is one class everywhere (1/3 held out).
    expect(r.l2).toBe(1e-3);
    expect(r.validation.find((v) => v.l2 === 1e3)!.accuracy).toBeLessThan(0.5);
    expect(r.testAccuracy).toBeGreaterThan(0.95);
  });

  test('bad input is a typed error', async () => {
    const b = blobs(9, 2, 1);
    await expect(linearProbe(b, { ...b, labels: Int32Array.from(b.labels, () => 3) }, { classes: 3 })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(linearProbe(b, { ...blobs(9, 3, 1) }, { classes: 3 })).rejects.toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
    await expect(fitLogistic({ ...b, classes: 3, l2: -1 })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});
