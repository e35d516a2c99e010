/**
 * Few-shot through the kernels (lib/eval/ridge-backend: f32 GEMM for the Gram matrices and the
 * scores) against the float64 host reference: equal ridge weights to 1e-4 and equal accuracies;
 * the L2 chosen on a validation sample of train that is disjoint from the support set and never
 * looks at test (scrambling the test labels leaves the choice unchanged).
 */
import { Mulberry32 } from '../../lib/data/seeded-random';
import { FEWSHOT_L2_GRID, fewShot, ridgeFit, sampleShots, sampleValidation } from '../../lib/eval/few-shot';
import { deviceRidge, hostRidge } from '../../lib/eval/ridge-backend';
import { openDevice, type Device } from '../../lib/runtime';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

function gaussian(rng: Mulberry32): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** Classes `spread` apart along random directions, with correlated features (a shared factor). */
function blobs(n: number, dim: number, classes: number, seed: number, spread: number) {
  // The centres depend on the shape only, so a train and a test set drawn with other seeds share them.
  const at = new Mulberry32(1000 + 7 * classes + dim);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => gaussian(at)));
  const rng = new Mulberry32(seed);
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    const c = i % classes;
    labels[i] = c;
    const shared = gaussian(rng);
    for (let j = 0; j < dim; ++j) x[i * dim + j] = centres[c]![j]! + spread * gaussian(rng) + 0.5 * shared + 3;
  }
  return { n, dim, x, labels };
}

test('the grid is the powers of 2 from 2^-4 to 2^14', () => {
  expect(FEWSHOT_L2_GRID).toHaveLength(19);
  expect(FEWSHOT_L2_GRID[0]).toBe(1 / 16);
  expect(FEWSHOT_L2_GRID.at(-1)).toBe(16384);
});

test('device ridge weights equal the float64 host weights to 1e-4', () => {
  const t = blobs(300, 24, 5, 1, 1.5);
  const rows = sampleShots(t.labels, 5, 6, 0);
  for (const l2 of [0.25, 4]) {
    const host = ridgeFit(t, rows, 5, l2, hostRidge);
    const dev = ridgeFit(t, rows, 5, l2, deviceRidge(device));
    const scale = Math.max(...host.w.map(Math.abs));
    host.w.forEach((v, i) => expect(Math.abs(dev.w[i]! - v)).toBeLessThan(1e-4 * scale));
  }
});

test('fewShot on the device equals the host, fixed L2 and chosen L2', () => {
  const train = blobs(600, 16, 4, 2, 2.5);
  const test = blobs(400, 16, 4, 3, 2.5);
  const o = { classes: 4, shots: [1, 3, 10], seeds: 3, validation: 200 };
  for (const extra of [{ l2: 2 }, {}]) {
    const host = fewShot(train, test, { ...o, ...extra });
    const dev = fewShot(train, test, { ...o, ...extra, device });
    dev.forEach((row, i) => {
      expect(row.l2).toBe(host[i]!.l2);
      row.accuracies.forEach((a, s) => expect(Math.abs(a - host[i]!.accuracies[s]!)).toBeLessThanOrEqual(1e-4 + 1 / test.n));
      row.validation.forEach((v, s) => expect(Math.abs(v.accuracy - host[i]!.validation[s]!.accuracy)).toBeLessThanOrEqual(1e-4 + 1 / 200));
    });
    if ('l2' in extra) expect(dev.every((r) => r.l2 === 2 && r.validation.length === 0)).toBe(true);
    else expect(dev.every((r) => r.validation.length === FEWSHOT_L2_GRID.length)).toBe(true);
  }
});

test('the L2 choice never looks at test; the validation sample avoids the support set', () => {
  const train = blobs(500, 12, 4, 4, 3);
  const test = blobs(200, 12, 4, 5, 3);
  const scrambled = { ...test, labels: Int32Array.from(test.labels, (l) => (l + 1) % 4) };
  const a = fewShot(train, test, { classes: 4, shots: [2, 8], validation: 300 });
  const b = fewShot(train, scrambled, { classes: 4, shots: [2, 8], validation: 300 });
  expect(b.map((r) => r.l2)).toEqual(a.map((r) => r.l2));
  expect(b.map((r) => r.validation)).toEqual(a.map((r) => r.validation));
  const support = sampleShots(train.labels, 4, 8, 1);
  const val = sampleValidation(train.n, support, 300, 1, 8);
  expect(val).toHaveLength(300);
  expect(new Set(val).size).toBe(300);
  expect(Array.from(val).some((r) => support.includes(r))).toBe(false);
  expect(Array.from(sampleValidation(train.n, support, 300, 1, 8))).toEqual(Array.from(val));
  expect(sampleValidation(40, support, 300, 1, 8)).toHaveLength(40 - Array.from(support).filter((r) => r < 40).length);
  expect(() => fewShot(train, test, { classes: 4, shots: [2], l2Grid: [] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  expect(() => fewShot(train, test, { classes: 4, shots: [2], validation: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
});
