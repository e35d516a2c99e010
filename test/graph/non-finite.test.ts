/**
 * The training step's non-finite guard: a batch that makes the loss NaN rejects the run with
 * ERR_NON_FINITE, and every persistent buffer (parameters, optimizer state, accumulators) is
 * bitwise what it was; the next good batch trains normally. Without the guard (checkFinite: false)
 * the same batch poisons the parameters, which is what the guard is for.
 */
import { openDevice, type Device } from '../../lib/runtime';
import { compile } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import type { TrainingStepOptions } from '../../lib/graph/training-step';
import { rejectionOf } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mlp } from '../helpers/graph-models';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const o = { batch: 8, features: 6, hidden: 8, classes: 3, depth: 1 };
const shapes = { x: [8, 6], labels: [8] };

function snapshot(p: Program): Map<string, Buffer> {
  return new Map(p.bufferNames().filter((n) => !n.startsWith('grad/')).map((n) => [n, Buffer.from(p.read(n).buffer.slice(0))]));
}

function batch(seed: number, poison = false) {
  const rng = mulberry32(seed);
  const x = normals(rng, o.batch * o.features);
  if (poison) x[5] = NaN;
  return { x, labels: Int32Array.from({ length: o.batch }, () => randInt(rng, 0, o.classes - 1)) };
}

describe.each([
  ['adamw with clipping', { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 0.01 }, clipNorm: 1 }],
  ['adafactor', { loss: 'loss', optimizer: { kind: 'adafactor', weightDecay: 0.01 } }],
] as [string, TrainingStepOptions][])('%s', (_name, train) => {
  test('a NaN batch rejects with ERR_NON_FINITE before the update; state is untouched; training goes on', async () => {
    using p = compile((b) => mlp(b, o), { device, train, seed: 1, inputShapes: shapes });
    await p.run(batch(1), { lr: 0.01, step: 1 });
    const before = snapshot(p);
    const e = await rejectionOf(p.run(batch(2, true), { lr: 0.01, step: 2 }));
    expect(e).toMatchObject({ code: 'ERR_NON_FINITE', expected: 'a finite loss', received: 'NaN' });
    expect((e as Error).message).toMatch(/assert_finite.*loss is NaN/);
    const after = snapshot(p);
    for (const [name, bytes] of before) expect({ name, same: after.get(name)!.equals(bytes) }).toEqual({ name, same: true });
    const out = await p.run(batch(3), { lr: 0.01, step: 2 });
    expect(Number.isFinite((out.loss as Float32Array)[0])).toBe(true);
    expect(snapshot(p).get('layer0/w')!.equals(before.get('layer0/w')!)).toBe(false);
  });

  test('the guards run before any update in the plan, on the loss and on the gradient norm', () => {
    using p = compile((b) => mlp(b, o), { device, train, inputShapes: shapes });
    const kernels = p.main.lowered.plan.streams[0]!;
    const guards = kernels.flatMap((k, i) => (k.kernel === 'assert_finite' ? [{ i, what: k.spec.what }] : []));
    expect(guards.map((g) => g.what)).toEqual(['loss', 'gradNorm']);
    const firstUpdate = kernels.findIndex((k) => k.kernel.startsWith('adamw') || k.kernel === 'adafactor');
    expect(firstUpdate).toBeGreaterThan(guards[1]!.i);
  });
});

test('without the guard (checkFinite: false) the same batch turns the parameters NaN', async () => {
  using p = compile((b) => mlp(b, o), { device, train: { loss: 'loss', optimizer: { kind: 'adamw' }, checkFinite: false }, inputShapes: shapes });
  expect(p.main.lowered.plan.streams[0]!.some((k) => k.kernel === 'assert_finite')).toBe(false);
  await p.run(batch(2, true), { lr: 0.01, step: 1 });
  expect(Array.from(p.read('layer0/w') as Float32Array).some(Number.isNaN)).toBe(true);
});

test("a NaN micro-batch in mode 'accumulate' adds nothing to the accumulators", async () => {
  using p = compile((b) => mlp(b, o), { device, train: { loss: 'loss', optimizer: { kind: 'adamw' }, accumulate: true }, inputShapes: shapes });
  await p.run(batch(1), {}, { mode: 'accumulate' });
  const before = snapshot(p);
  const e = await rejectionOf(p.run(batch(2, true), {}, { mode: 'accumulate' }));
  expect(e).toMatchObject({ code: 'ERR_NON_FINITE' });
  expect(p.accumulatedMicroBatches).toBe(1);
  for (const [name, bytes] of snapshot(p)) expect({ name, same: before.get(name)!.equals(bytes) }).toEqual({ name, same: true });
});
