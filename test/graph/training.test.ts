/**
 * Whole training steps through the pipeline: a 2-layer MLP and a transformer (parallel ViT-22B-style
 * block) trained on fixed random data with AdamW reduce their loss; rematerialization and fusion
 * change memory and kernel counts but not the numbers (remat is bitwise identical: the same kernels
 * on the same inputs), and a step is a constant number of N-API calls whatever the depth.
 */
import { openDevice, type Device } from '../../lib/runtime';
import { napiCallCount } from '../../lib/runtime/napi-calls';
import { compile } from '../../lib/graph/compile';
import type { RematPolicy } from '../../lib/graph/passes/remat';
import type { Program, ProgramInputs } from '../../lib/graph/program';
import { normals } from '../helpers/graph-harness';
import { mlp, transformer, type BlockOptions } from '../helpers/graph-models';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const adamw = { loss: 'loss', optimizer: { kind: 'adamw' as const, weightDecay: 1e-4 }, clipNorm: 1 };

function labelsFor(rng: () => number, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, () => randInt(rng, 0, c - 1));
}

async function train(p: Program, inputs: ProgramInputs, steps: number, lr: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = 1; step <= steps; ++step) {
    const out = await p.run(inputs, { lr, step });
    losses.push((out.loss as Float32Array)[0]!);
  }
  return losses;
}

test('a 2-layer MLP memorizes random data (loss falls 10x) with AdamW and clipping', async () => {
  const rng = mulberry32(7);
  const o = { batch: 32, features: 10, hidden: 32, classes: 4, depth: 2 };
  using p = compile((b) => mlp(b, o), { device, train: adamw, seed: 3, inputShapes: { x: [32, 10], labels: [32] } });
  const inputs = { x: normals(rng, 320), labels: labelsFor(rng, 32, 4) };
  const losses = await train(p, inputs, 150, 1e-2);
  expect(losses[0]).toBeGreaterThan(1.0); // ln 4 = 1.39 at initialization
  expect(losses[149]!).toBeLessThan(losses[0]! / 10);
  const out = await p.run(inputs, { lr: 0, step: 151 });
  expect((out.accuracy as Int32Array)[0]).toBe(32);
  expect((out.gradNorm as Float32Array)[0]).toBeGreaterThan(0);
});

const blockOpts: BlockOptions = { batch: 4, tokens: 8, width: 16, heads: 2, mlp: 32, classes: 3, depth: 1 };

test('a parallel transformer block learns random token data', async () => {
  const rng = mulberry32(11);
  const o = blockOpts;
  using p = compile((b) => transformer(b, o), { device, train: adamw, seed: 5, inputShapes: { x: [4, 8, 16], labels: [4] } });
  const inputs = { x: normals(rng, 4 * 8 * 16), labels: labelsFor(rng, 4, 3) };
  const losses = await train(p, inputs, 60, 1e-2);
  expect(losses[59]!).toBeLessThan(losses[0]! * 0.2);
});

describe('rematerialization and fusion keep the numbers', () => {
  async function gradsAfterTwoSteps(remat: RematPolicy, fusion: boolean) {
    const rng = mulberry32(21);
    const o = { ...blockOpts, depth: 2 };
    using p = compile((b) => transformer(b, o), { device, train: adamw, seed: 9, remat, fusion, inputShapes: { x: [4, 8, 16], labels: [4] } });
    const inputs = { x: normals(rng, 4 * 8 * 16), labels: labelsFor(rng, 4, 3) };
    await train(p, inputs, 2, 1e-2);
    const grads = Object.fromEntries(p.parameterNames().map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
    return { grads, arena: p.memory.arenaBytes, kernels: p.main.lowered.plan.streams[0]!.length };
  }

  test('selective and block remat give bitwise the same gradients with a smaller arena', async () => {
    const none = await gradsAfterTwoSteps('none', true);
    for (const policy of ['selective', 'block'] as const) {
      const r = await gradsAfterTwoSteps(policy, true);
      for (const [name, g] of Object.entries(none.grads)) expect(Buffer.from(r.grads[name]!.buffer).equals(Buffer.from(g.buffer))).toBe(true);
      expect(r.arena).toBeLessThan(none.arena);
      expect(r.kernels).toBeGreaterThan(none.kernels); // the recomputation is real work
    }
  });

  test('fusion changes kernel count, not results (within f32 rounding)', async () => {
    const fused = await gradsAfterTwoSteps('none', true);
    const plain = await gradsAfterTwoSteps('none', false);
    expect(fused.kernels).toBeLessThan(plain.kernels);
    for (const [name, g] of Object.entries(plain.grads)) {
      const f = fused.grads[name]!;
      let scale = 0;
      for (const x of g) scale = Math.max(scale, Math.abs(x));
      for (let i = 0; i < g.length; ++i) expect(Math.abs(f[i]! - g[i]!)).toBeLessThanOrEqual(1e-4 * scale + 1e-6);
    }
  });
});

test('a training step is one N-API call, whatever the depth', async () => {
  const counts: number[] = [];
  for (const depth of [1, 4]) {
    const rng = mulberry32(depth);
    const o = { ...blockOpts, depth };
    using p = compile((b) => transformer(b, o), { device, train: adamw, inputShapes: { x: [4, 8, 16], labels: [4] } });
    const inputs = { x: normals(rng, 4 * 8 * 16), labels: labelsFor(rng, 4, 3) };
    await p.run(inputs, { lr: 1e-3, step: 1 }); // warm: nothing lazy left
    const before = napiCallCount();
    for (let step = 2; step <= 4; ++step) await p.run(inputs, { lr: 1e-3, step });
    counts.push((napiCallCount() - before) / 3); // napiCallCount itself is not counted
    expect(p.main.lowered.plan.streams[0]!.length).toBeGreaterThan(20 * depth);
  }
  expect(counts).toEqual([1, 1]);
});

test('the arena size is reported at compile time, before any run', () => {
  using p = compile((b) => transformer(b, blockOpts), { device, train: adamw, inputShapes: { x: [4, 8, 16], labels: [4] } });
  const m = p.memory;
  expect(m.arenaBytes).toBeGreaterThan(0);
  expect(m.arenaBytes).toBeLessThanOrEqual(m.unsharedBytes + 256 * p.main.memory.groups.length);
  expect(m.persistentBytes).toBeGreaterThan(0);
});

test('plans are cached per input shape; parameters are shared between them', async () => {
  const rng = mulberry32(4);
  const o = { batch: 8, features: 6, hidden: 8, classes: 3, depth: 1 };
  using p = compile((b, shapes) => mlp(b, { ...o, batch: shapes.x![0]! }), { device, train: adamw, inputShapes: { x: [8, 6], labels: [8] } });
  const small = { x: { data: normals(rng, 4 * 6), shape: [4, 6] }, labels: { data: labelsFor(rng, 4, 3), shape: [4] } };
  const w0 = p.read('layer0/w');
  await p.run(small, { lr: 1e-2, step: 1 });
  const w1 = p.read('layer0/w');
  expect(Buffer.from(w1.buffer).equals(Buffer.from(w0.buffer))).toBe(false);
  const big = { x: normals(rng, 8 * 6), labels: labelsFor(rng, 8, 3) };
  await p.run(big, { lr: 1e-2, step: 2 });
  await p.run(small, { lr: 1e-2, step: 3 });
  expect(p.variantCount).toBe(2);
});

test("precision 'bf16-mixed': bf16 activations and f32 master weights track the fp32 run", async () => {
  const rng = mulberry32(31);
  const inputs = { x: normals(rng, 4 * 8 * 16), labels: labelsFor(rng, 4, 3) };
  const run = async (precision: 'fp32' | 'bf16-mixed') => {
    using p = compile((b) => transformer(b, blockOpts), { device, train: adamw, precision, seed: 2, inputShapes: { x: [4, 8, 16], labels: [4] } });
    const dtypes = new Set(p.main.graph.nodes.flatMap((n) => n.outputs.map((v) => v.dtype)));
    const losses = await train(p, inputs, 40, 1e-2);
    return { losses, dtypes, master: p.read('block0/wq') };
  };
  const fp32 = await run('fp32');
  const mixed = await run('bf16-mixed');
  expect(fp32.dtypes.has('bf16')).toBe(false);
  expect(mixed.dtypes.has('bf16')).toBe(true);
  expect(mixed.master).toBeInstanceOf(Float32Array); // master weights stay f32
  expect(Math.abs(mixed.losses[0]! - fp32.losses[0]!)).toBeLessThan(0.02 * fp32.losses[0]!);
  expect(mixed.losses[39]!).toBeLessThan(mixed.losses[0]! * 0.3);
});

test("mode 'forward' evaluates on the trained parameters without changing them", async () => {
  const rng = mulberry32(8);
  const o = { batch: 8, features: 5, hidden: 8, classes: 3, depth: 1 };
  using p = compile((b) => mlp(b, o), { device, train: adamw, inputShapes: { x: [8, 5], labels: [8] } });
  const inputs = { x: normals(rng, 40), labels: labelsFor(rng, 8, 3) };
  const trained = await train(p, inputs, 30, 1e-2);
  const w = p.read('layer0/w');
  const evalOut = await p.run(inputs, {}, { mode: 'forward' });
  expect(Buffer.from(p.read('layer0/w').buffer).equals(Buffer.from(w.buffer))).toBe(true);
  expect(evalOut.gradNorm).toBeUndefined();
  // The forward loss is the loss the next training step reports (same parameters, same data; the
  // forward variant may fuse GELU into the GEMM epilogue, so equal to f32 rounding, not bitwise).
  const next = await p.run(inputs, { lr: 0, step: 31 });
  const [fwd, step] = [(evalOut.loss as Float32Array)[0]!, (next.loss as Float32Array)[0]!];
  expect(Math.abs(fwd - step)).toBeLessThanOrEqual(1e-5 * Math.abs(step));
  expect((evalOut.loss as Float32Array)[0]!).toBeLessThan(trained[0]!);
  expect(p.variantCount).toBe(2);
});
