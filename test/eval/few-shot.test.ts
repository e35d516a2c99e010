/**
 * lib/eval/few-shot against a direct solution: the ridge weights equal those of the normal
 * equations solved independently here (Gauss-Jordan with partial pivoting on the centered data);
 * the sample is k per class, without repeats, and the same for the same seed; well-separated
 * classes are classified perfectly from one shot.
 */
import { Mulberry32 } from '../../lib/data/seeded-random';
import { fewShot, ridgeAccuracy, ridgeFit, sampleShots } from '../../lib/eval/few-shot';

function gaussian(rng: Mulberry32): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

function blobs(n: number, dim: number, classes: number, seed: number, spread: number) {
  const rng = new Mulberry32(seed);
  const x = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    labels[i] = i % classes;
    for (let j = 0; j < dim; ++j) x[i * dim + j] = (j === i % classes ? 4 : 0) + 1 + spread * gaussian(rng);
  }
  return { n, dim, x, labels };
}

/** Solves M Z = R ([d, d] and [d, m]) by Gauss-Jordan elimination with partial pivoting. */
function gaussJordan(mIn: number[][], rIn: number[][]): number[][] {
  const d = mIn.length;
  const a = mIn.map((row, i) => [...row, ...rIn[i]!]);
  for (let c = 0; c < d; ++c) {
    let p = c;
    for (let i = c + 1; i < d; ++i) if (Math.abs(a[i]![c]!) > Math.abs(a[p]![c]!)) p = i;
    [a[c], a[p]] = [a[p]!, a[c]!];
    for (let i = 0; i < d; ++i) {
      if (i === c) continue;
      const f = a[i]![c]! / a[c]![c]!;
      for (let j = c; j < a[i]!.length; ++j) a[i]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((row, i) => row.slice(d).map((v) => v / a[i]![i]!));
}

describe('few-shot ridge regression', () => {
  test('the weights equal an independent solve of the normal equations', () => {
    const classes = 3;
    const t = blobs(40, 5, classes, 1, 1);
    const rows = Int32Array.of(0, 4, 7, 11, 13, 20, 25, 31);
    const l2 = 0.5;
    const fit = ridgeFit(t, rows, classes, l2);
    // Direct: centre the chosen rows and one-hot labels, then (Xc^T Xc + l2 I) W = Xc^T Yc.
    const X = Array.from(rows, (r) => Array.from(t.x.subarray(r * 5, r * 5 + 5)));
    const Y = Array.from(rows, (r) => Array.from({ length: classes }, (_, c) => (t.labels[r] === c ? 1 : 0)));
    const mean = (m: number[][]) => m[0]!.map((_, j) => m.reduce((s, row) => s + row[j]!, 0) / m.length);
    const mx = mean(X);
    const my = mean(Y);
    const Xc = X.map((row) => row.map((v, j) => v - mx[j]!));
    const Yc = Y.map((row) => row.map((v, j) => v - my[j]!));
    const M = mx.map((_, p) => mx.map((_, q) => Xc.reduce((s, row) => s + row[p]! * row[q]!, 0) + (p === q ? l2 : 0)));
    const R = mx.map((_, p) => my.map((_, c) => Xc.reduce((s, row, i) => s + row[p]! * Yc[i]![c]!, 0)));
    const W = gaussJordan(M, R);
    for (let p = 0; p < 5; ++p) for (let c = 0; c < classes; ++c) expect(fit.w[p * classes + c]!).toBeCloseTo(W[p]![c]!, 10);
    mx.forEach((v, j) => expect(fit.mean[j]!).toBeCloseTo(v, 12));
    my.forEach((v, c) => expect(fit.yMean[c]!).toBeCloseTo(v, 12));
    // Prediction: argmax of (x - mean) W + mean(Y), computed directly on every row.
    let right = 0;
    for (let i = 0; i < t.n; ++i) {
      const s = my.map((v, c) => v + mx.reduce((a, m, j) => a + (t.x[i * 5 + j]! - m) * W[j]![c]!, 0));
      if (s.indexOf(Math.max(...s)) === t.labels[i]) right++;
    }
    expect(ridgeAccuracy(t, fit, classes)).toBe(right / t.n);
  });

  test('k distinct examples per class, the same for the same seed, others for another', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => i % 4);
    const a = sampleShots(labels, 4, 5, 0);
    expect(Array.from(sampleShots(labels, 4, 5, 0))).toEqual(Array.from(a));
    expect(Array.from(sampleShots(labels, 4, 5, 1))).not.toEqual(Array.from(a));
    expect(new Set(a).size).toBe(20);
    for (let c = 0; c < 4; ++c) expect(Array.from(a).filter((r) => labels[r] === c)).toHaveLength(5);
    expect(() => sampleShots(labels, 4, 26, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });

  test('fewShot: deterministic, mean and std over seeds, perfect on well-separated classes', () => {
    const train = blobs(200, 8, 4, 2, 0.2);
    const test = blobs(80, 8, 4, 3, 0.2);
    const r = fewShot(train, test, { classes: 4, shots: [1, 5], seeds: 3 });
    expect(fewShot(train, test, { classes: 4, shots: [1, 5], seeds: 3 })).toEqual(r);
    expect(r.map((x) => x.shots)).toEqual([1, 5]);
    for (const row of r) {
      expect(row.accuracies).toEqual([1, 1, 1]);
      expect(row.mean).toBe(1);
      expect(row.std).toBe(0);
    }
    const noisy = fewShot(blobs(200, 8, 4, 2, 3), blobs(80, 8, 4, 3, 3), { classes: 4, shots: [2], seeds: 3 })[0]!;
    const m = noisy.accuracies.reduce((a, b) => a + b, 0) / 3;
    expect(noisy.mean).toBeCloseTo(m, 12);
    expect(noisy.std).toBeCloseTo(Math.sqrt(noisy.accuracies.reduce((a, b) => a + (b - m) ** 2, 0) / 3), 12);
  });
});
