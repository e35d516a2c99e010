/**
 * Adafactor through the graph compiler (adafactor_update, training-step.ts) against a float64
 * reference of the formula documented in native/cpu/adafactor.cc, written here independently:
 *   g = clip g;  s = g^2 + eps;  factored: vr = d vr + (1-d) rowmean(s), vc = d vc + (1-d) colmean(s),
 *   v_hat = vr_i vc_j / mean(vr);  else v_hat = v = d v + (1-d) s;  u = g / sqrt(v_hat);
 *   m = b1 m + (1-b1) u (stored bf16);  p -= lr (lrMult m + wd p);  d = min(0.999, 1 - t^-0.8).
 * A small MLP with a factored first layer ([32, 40]) and unfactored head and biases takes three
 * steps with clipping and per-parameter overrides (the paper's head decay, an lr multiplier);
 * each step is checked from the program's own state before it, read by name.
 */
import { openDevice, fromBf16, type Device } from '../../lib/runtime';
import { compile } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import { normals } from '../helpers/graph-harness';
import { mlp } from '../helpers/graph-models';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const o = { batch: 16, features: 32, hidden: 40, classes: 4, depth: 1 };
const hyper = { beta1: 0.9, eps: 1e-30, weightDecay: 0.03 };
const overrides = { 'head/w': { weightDecay: 3 }, 'layer*/b': { lrMult: 2 } };
const clipNorm = 0.5;

interface State {
  p: Float64Array;
  m: Float64Array;
  vr?: Float64Array;
  vc?: Float64Array;
  v?: Float64Array;
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

function readState(p: Program, name: string): State {
  const names = p.bufferNames();
  const s: State = { p: f64(p.read(name) as Float32Array), m: f64(fromBf16(p.read(`adafactor/m/${name}`) as Uint16Array)) };
  if (names.includes(`adafactor/vr/${name}`)) {
    s.vr = f64(p.read(`adafactor/vr/${name}`) as Float32Array);
    s.vc = f64(p.read(`adafactor/vc/${name}`) as Float32Array);
  } else {
    s.v = f64(p.read(`adafactor/v/${name}`) as Float32Array);
  }
  return s;
}

function referenceStep(s: State, grad: Float64Array, shape: readonly number[], t: number, lr: number, scale: number, lrMult: number, wd: number): State & { u: Float64Array } {
  const cols = shape[shape.length - 1]!;
  const rows = grad.length / cols;
  const d = Math.min(0.999, 1 - Math.pow(t, -0.8));
  const g = grad.map((x) => x * scale);
  const sq = g.map((x) => x * x + hyper.eps);
  const u = new Float64Array(g.length);
  const next: State = { p: new Float64Array(g.length), m: new Float64Array(g.length) };
  if (s.vr) {
    next.vr = s.vr.map((x, i) => {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += sq[i * cols + j]!;
      return d * x + (1 - d) * (sum / cols);
    });
    next.vc = s.vc!.map((x, j) => {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += sq[i * cols + j]!;
      return d * x + (1 - d) * (sum / rows);
    });
    const mean = next.vr.reduce((a, b) => a + b, 0) / rows;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) u[i * cols + j] = g[i * cols + j]! / Math.sqrt((next.vr[i]! * next.vc[j]!) / mean);
  } else {
    next.v = s.v!.map((x, k) => d * x + (1 - d) * sq[k]!);
    for (let k = 0; k < g.length; k++) u[k] = g[k]! / Math.sqrt(next.v[k]!);
  }
  for (let k = 0; k < g.length; k++) {
    next.m[k] = hyper.beta1 * s.m[k]! + (1 - hyper.beta1) * u[k]!;
    next.p[k] = s.p[k]! - lr * (lrMult * next.m[k]! + wd * s.p[k]!);
  }
  return { ...next, u };
}

function expectWithin(what: string, got: Float64Array, ref: Float64Array, bound: (k: number) => number): void {
  for (let k = 0; k < ref.length; k++) {
    const err = Math.abs(got[k]! - ref[k]!);
    if (!(err <= bound(k))) throw new Error(`${what}[${k}]: got ${got[k]}, reference ${ref[k]}, |err| ${err} > ${bound(k)}`);
  }
}

test('three Adafactor steps of an MLP equal the float64 reference (factored and not, clip, overrides)', async () => {
  const rng = mulberry32(17);
  using p = compile((b) => mlp(b, o), {
    device,
    seed: 4,
    inputShapes: { x: [o.batch, o.features], labels: [o.batch] },
    train: { loss: 'loss', optimizer: { kind: 'adafactor', ...hyper, overrides }, clipNorm },
  });
  const names = p.parameterNames();
  // The state layout of the recipe: factored second moment for [32, 40], full v elsewhere, bf16 momentum.
  expect(p.bufferNames()).toEqual(expect.arrayContaining(['adafactor/vr/layer0/w', 'adafactor/vc/layer0/w', 'adafactor/v/head/w', 'adafactor/v/layer0/b']));
  expect(p.bufferShape('adafactor/vr/layer0/w')).toEqual([32]);
  expect(p.bufferShape('adafactor/vc/layer0/w')).toEqual([40]);
  expect(p.read('adafactor/m/head/w')).toBeInstanceOf(Uint16Array);
  const lrs = [0.05, 0.02, 0.01];
  let clipped = 0;
  for (let t = 1; t <= 3; ++t) {
    const inputs = { x: normals(rng, o.batch * o.features), labels: Int32Array.from({ length: o.batch }, () => randInt(rng, 0, 3)) };
    const before = new Map(names.map((n) => [n, readState(p, n)]));
    const out = await p.run(inputs, { lr: lrs[t - 1]!, step: t }); // decay derived from step
    const norm = (out.gradNorm as Float32Array)[0]!;
    const scale = norm > clipNorm ? Math.fround(clipNorm / norm) : 1;
    if (scale < 1) clipped++;
    for (const name of names) {
      const grad = f64(p.read(`grad/${name}`) as Float32Array);
      const lrMult = name.endsWith('/b') && name.startsWith('layer') ? 2 : 1;
      const wd = name === 'head/w' ? 3 : 0.03;
      const ref = referenceStep(before.get(name)!, grad, p.bufferShape(name), t, lrs[t - 1]!, scale, lrMult, wd);
      const got = readState(p, name);
      for (const key of ['vr', 'vc', 'v'] as const) {
        if (ref[key]) expectWithin(`${name} ${key} step ${t}`, got[key]!, ref[key], (k) => 2e-5 * Math.abs(ref[key]![k]!) + 1e-37);
      }
      const s = before.get(name)!;
      const mBound = (k: number) => 2 ** -8 * Math.abs(ref.m[k]!) + 2e-5 * (hyper.beta1 * Math.abs(s.m[k]!) + (1 - hyper.beta1) * Math.abs(ref.u[k]!)) + 1e-30;
      expectWithin(`${name} m step ${t}`, got.m, ref.m, mBound);
      const lr = lrs[t - 1]!;
      expectWithin(`${name} param step ${t}`, got.p, ref.p, (k) => 2e-6 * Math.abs(s.p[k]!) + 2e-5 * lr * (lrMult * Math.abs(ref.m[k]!) + wd * Math.abs(s.p[k]!)) + 1e-12);
    }
  }
  expect(clipped).toBeGreaterThan(0); // the clip factor was really exercised
});

test('the per-parameter overrides reach the update: head/w decays 100x faster than the body', async () => {
  // With zero gradients (lr > 0, labels irrelevant: x = 0 makes every weight gradient 0), the update
  // is pure decay: p' = p (1 - lr wd).
  using p = compile((b) => mlp(b, { ...o, depth: 1 }), {
    device,
    seed: 2,
    inputShapes: { x: [o.batch, o.features], labels: [o.batch] },
    train: { loss: 'loss', optimizer: { kind: 'adafactor', weightDecay: 0.03, overrides: { 'head/w': { weightDecay: 3 } } } },
  });
  const w0 = p.read('layer0/w') as Float32Array;
  const h0 = p.read('head/w') as Float32Array;
  await p.run({ x: new Float32Array(o.batch * o.features), labels: new Int32Array(o.batch) }, { lr: 0.01, step: 1 });
  const w1 = p.read('layer0/w') as Float32Array;
  const h1 = p.read('head/w') as Float32Array;
  // Both have zero gradients here (x = 0, and head/w's input gelu(0 + b0) with b0 = 0 is 0).
  const decayed = (a: Float32Array, b: Float32Array, factor: number) => a.every((x, i) => Math.abs(b[i]! - x * factor) <= 1e-7 * Math.abs(x));
  expect(decayed(w0, w1, 1 - 0.01 * 0.03)).toBe(true);
  expect(decayed(h0, h1, 1 - 0.01 * 3)).toBe(true);
});

test('an override that matches no parameter is a typed error naming it', () => {
  expect(() =>
    compile((b) => mlp(b, o), {
      device,
      inputShapes: { x: [o.batch, o.features], labels: [o.batch] },
      train: { loss: 'loss', optimizer: { kind: 'adafactor', overrides: { 'haed/w': { weightDecay: 3 } } } },
    }),
  ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', received: 'haed/w' }));
});

test('AdamW takes the same overrides: lrMult scales the step, the decay stays lr x weightDecay', async () => {
  // Two identical programs, one with lrMult 3 on head/b: the first AdamW step is lr * m_hat / (sqrt(v_hat) + eps),
  // so head/b moves 3x as far; with weightDecay on head/w and lrMult 3 there, the decay part is unchanged.
  const rng = mulberry32(5);
  const inputs = { x: normals(rng, o.batch * o.features), labels: Int32Array.from({ length: o.batch }, () => randInt(rng, 0, 3)) };
  const step = async (overrides: Record<string, { lrMult?: number; weightDecay?: number }>) => {
    using p = compile((b) => mlp(b, o), { device, seed: 8, inputShapes: { x: [o.batch, o.features], labels: [o.batch] }, train: { loss: 'loss', optimizer: { kind: 'adamw', overrides } } });
    const before = { b: p.read('head/b') as Float32Array, w: p.read('head/w') as Float32Array };
    await p.run(inputs, { lr: 1e-3, step: 1 });
    return { before, b: p.read('head/b') as Float32Array, w: p.read('head/w') as Float32Array };
  };
  const plain = await step({});
  const mult = await step({ 'head/b': { lrMult: 3 } });
  for (let i = 0; i < plain.b.length; ++i) {
    expect(mult.b[i]! - mult.before.b[i]!).toBeCloseTo(3 * (plain.b[i]! - plain.before.b[i]!), 7);
  }
  // Pure decay on a zero-gradient copy: lrMult 3 and weightDecay 2 on head/w decay by 1 - lr * 2 exactly as lrMult 1.
  using p = compile((b) => mlp(b, o), { device, seed: 8, inputShapes: { x: [o.batch, o.features], labels: [o.batch] }, train: { loss: 'loss', optimizer: { kind: 'adamw', overrides: { 'head/w': { lrMult: 3, weightDecay: 2 } } } } });
  const w0 = p.read('head/w') as Float32Array;
  await p.run({ x: new Float32Array(o.batch * o.features), labels: new Int32Array(o.batch) }, { lr: 0.01, step: 1 });
  const w1 = p.read('head/w') as Float32Array;
  for (let i = 0; i < w0.length; ++i) expect(w1[i]!).toBeCloseTo(w0[i]! * (1 - 0.01 * 2), 6);
});
