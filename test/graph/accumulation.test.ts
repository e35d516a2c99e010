/**
 * Gradient accumulation: k micro-batches of B/k (k - 1 runs in mode 'accumulate', then one 'train'
 * run) give the update of one batch of B, to f32 rounding: the same mean gradient in grad/<name>,
 * the same parameters after the optimizer, and the mean of the micro-batch losses is the big
 * batch's loss. The accumulators are zero again after the step.
 */
import { openDevice, type Device } from '../../lib/runtime';
import { compile } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import type { OptimizerSpec } from '../../lib/graph/training-step';
import { normals } from '../helpers/graph-harness';
import { transformer } from '../helpers/graph-models';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const B = 8;
const o = { batch: B, tokens: 4, width: 16, heads: 2, mlp: 32, classes: 3, depth: 1 };
const per = o.tokens * o.width;

function data(seed: number) {
  const rng = mulberry32(seed);
  return { x: normals(rng, B * per), labels: Int32Array.from({ length: B }, () => randInt(rng, 0, o.classes - 1)) };
}

function slice(d: ReturnType<typeof data>, i: number, k: number) {
  const m = B / k;
  return {
    x: { data: d.x.slice(i * m * per, (i + 1) * m * per), shape: [m, o.tokens, o.width] },
    labels: { data: d.labels.slice(i * m, (i + 1) * m), shape: [m] },
  };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0, diff = 0;
  for (let i = 0; i < a.length; ++i) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

async function compare(optimizer: OptimizerSpec, k: number, steps: number) {
  const train = (accumulate: boolean) => ({ loss: 'loss', optimizer, clipNorm: 0.5, accumulate });
  const model = (batch: number) => (b: Parameters<typeof transformer>[0]) => transformer(b, { ...o, batch });
  using big = compile(model(B), { device, seed: 6, train: train(false), inputShapes: { x: [B, o.tokens, o.width], labels: [B] } });
  using acc = compile((b, s) => model(s.x![0]!)(b), { device, seed: 6, train: train(true), inputShapes: { x: [B / k, o.tokens, o.width], labels: [B / k] } });
  for (let step = 1; step <= steps; ++step) {
    const d = data(step);
    const bigOut = await big.run(d, { lr: 0.01, step });
    const losses: number[] = [];
    for (let i = 0; i < k; ++i) {
      const out = await acc.run(slice(d, i, k), { lr: 0.01, step }, { mode: i < k - 1 ? 'accumulate' : 'train' });
      losses.push((out.loss as Float32Array)[0]!);
    }
    const meanLoss = losses.reduce((s, x) => s + x, 0) / k;
    expect(Math.abs(meanLoss - (bigOut.loss as Float32Array)[0]!)).toBeLessThan(1e-5);
    for (const name of big.parameterNames()) {
      expect({ name, grad: maxRelDiff(acc.read(`grad/${name}`) as Float32Array, big.read(`grad/${name}`) as Float32Array) < 1e-5 }).toEqual({ name, grad: true });
      expect({ name, param: maxRelDiff(acc.read(name) as Float32Array, big.read(name) as Float32Array) < 1e-5 }).toEqual({ name, param: true });
      expect((acc.read(`gradacc/${name}`) as Float32Array).every((x) => x === 0)).toBe(true);
    }
    expect(acc.accumulatedMicroBatches).toBe(0);
  }
  return { big, acc };
}

test('4 micro-batches of 2 equal one batch of 8 over three AdamW steps (with clipping)', async () => {
  await compare({ kind: 'adamw', weightDecay: 0.01 }, 4, 3);
});

test('2 micro-batches of 4 equal one batch of 8 with Adafactor', async () => {
  await compare({ kind: 'adafactor', weightDecay: 0.03 }, 2, 2);
});

test("'accumulate' needs train.accumulate; discardAccumulated zeroes the accumulators", async () => {
  using plain = compile((b) => transformer(b, o), { device, train: { loss: 'loss', optimizer: { kind: 'adamw' } }, inputShapes: { x: [B, o.tokens, o.width], labels: [B] } });
  await expect(plain.run(data(1), {}, { mode: 'accumulate' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  using p: Program = compile((b) => transformer(b, o), { device, train: { loss: 'loss', optimizer: { kind: 'adamw' }, accumulate: true }, inputShapes: { x: [B, o.tokens, o.width], labels: [B] } });
  await p.run(data(1), {}, { mode: 'accumulate' });
  expect(p.accumulatedMicroBatches).toBe(1);
  expect((p.read('gradacc/head/w') as Float32Array).some((x) => x !== 0)).toBe(true);
  p.discardAccumulated();
  expect(p.accumulatedMicroBatches).toBe(0);
  expect((p.read('gradacc/head/w') as Float32Array).every((x) => x === 0)).toBe(true);
});
