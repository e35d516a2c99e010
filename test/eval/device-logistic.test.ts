/**
 * The device objective (lib/eval/device-logistic: data term through the graph compiler's CPU
 * kernels, float32) against the float64 host objective: equal value and gradient at a random
 * point to float32 accuracy; on the same overlapping-classes problem, L-BFGS on each reaches
 * solutions whose accuracies agree within 0.5% and whose objectives (both measured by the float64
 * objective) agree within 1e-4 relative; the linear probe agrees the same way; bad input is typed.
 */
import { Mulberry32 } from '../../lib/data/seeded-random';
import { DeviceLogisticData } from '../../lib/eval/device-logistic';
import { linearProbe } from '../../lib/eval/linear-probe';
import { accuracyOf, fitLogistic, logisticObjective, logisticScores, paramCount, type LogisticProblem } from '../../lib/eval/logistic';
import { openDevice, type Device } from '../../lib/runtime';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

function gaussian(rng: Mulberry32): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** `classes` overlapping Gaussian blobs in `dim` dimensions (no linear separation). */
function overlapping(n: number, dim: number, classes: number, seed: number) {
  const rng = new Mulberry32(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => gaussian(rng)));
  const x = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; ++i) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < dim; ++j) x[i * dim + j] = centres[c]![j]! + 1.2 * gaussian(rng);
  }
  return { n, dim, x, labels };
}

test('value and gradient equal the float64 objective at a random point', async () => {
  const d = overlapping(200, 12, 4, 1);
  const p: LogisticProblem = { ...d, classes: 4, l2: 0.05 };
  using data = new DeviceLogisticData(device, Float32Array.from(d.x), d.labels, d.n, d.dim, 4);
  const rng = new Mulberry32(2);
  const w = Float64Array.from({ length: paramCount(p) }, () => 0.3 * gaussian(rng));
  const gHost = new Float64Array(w.length);
  const gDev = new Float64Array(w.length);
  const fHost = logisticObjective(p, w, gHost);
  const fDev = await data.objective(p.l2).evaluate(w, gDev);
  expect(Math.abs(fDev - fHost)).toBeLessThan(1e-5 * fHost);
  gHost.forEach((v, i) => expect(Math.abs(gDev[i]! - v)).toBeLessThan(1e-5));
  // Evaluating again on the same program (data written once) gives the same answer.
  expect(await data.objective(p.l2).evaluate(w, gDev)).toBe(fDev);
  expect(data.evaluations).toBe(2);
});

test('L-BFGS on the device objective matches the float64 solver', async () => {
  const d = overlapping(1500, 30, 5, 3);
  for (const l2 of [1e-4, 1e-2]) {
    const p: LogisticProblem = { ...d, classes: 5, l2 };
    using data = new DeviceLogisticData(device, Float32Array.from(d.x), d.labels, d.n, d.dim, 5);
    const host = await fitLogistic(p, { maxIter: 500 });
    const dev = await fitLogistic(data.objective(l2), { maxIter: 500 });
    // Non-increasing on the device too, in spite of float32 noise.
    for (let i = 1; i < dev.objective.length; ++i) expect(dev.objective[i]!).toBeLessThanOrEqual(dev.objective[i - 1]!);
    const scratch = new Float64Array(host.params.length);
    const fHost = logisticObjective(p, host.params, scratch);
    const fDev = logisticObjective(p, dev.params, scratch);
    expect(Math.abs(fDev - fHost) / fHost).toBeLessThan(1e-4);
    const acc = (params: Float64Array) => accuracyOf(logisticScores(d.x, d.n, d.dim, 5, params), d.labels, 5);
    expect(Math.abs(acc(dev.params) - acc(host.params))).toBeLessThanOrEqual(0.005);
  }
}, 60_000);

test('linearProbe with a device agrees with the host probe', async () => {
  const train = overlapping(2000, 20, 4, 5);
  const test = overlapping(600, 20, 4, 5); // same centres (same seed), fresh draws are not needed
  const options = { classes: 4, l2Grid: [1e-4, 1e-2, 1], maxIter: 300 };
  const host = await linearProbe(train, test, options);
  const dev = await linearProbe(train, test, { ...options, device });
  expect(dev.solver).toBe(device.name);
  expect(host.solver).toBe('host');
  expect(Math.abs(dev.testAccuracy - host.testAccuracy)).toBeLessThanOrEqual(0.005);
  dev.validation.forEach((v, i) => expect(Math.abs(v.accuracy - host.validation[i]!.accuracy)).toBeLessThanOrEqual(0.005));
}, 60_000);

test('bad input is a typed error', () => {
  expect(() => new DeviceLogisticData(device, new Float32Array(5), new Int32Array(2), 2, 3, 2)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
  using data = new DeviceLogisticData(device, new Float32Array(6), new Int32Array(2), 2, 3, 2);
  expect(() => data.objective(-1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  expect(() => data.objective(Number.NaN)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
});
