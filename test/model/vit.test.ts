/**
 * The ViT graph end to end: gradients of whole micro models (every block, pooling and embedding
 * variant) through the compiler and the executor match central differences; the tiny preset starts
 * at loss ln(10) (zero classifier) and fits a batch of random images.
 */
import { buildVit, getPreset, openDevice, type Device, type ModelConfig } from '../../lib';
import { compileStep, directionalChecks, expectClose, normals, randomizeParams } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const micro: ModelConfig = {
  imageSize: 8,
  patchSize: 4,
  channels: 2,
  width: 8,
  depth: 1,
  heads: 2,
  mlpDim: 12,
  numClasses: 3,
  block: 'parallel',
  qkNorm: true,
  qkNormCenter: false,
  qkvBias: false,
  mlpBias: true,
  norm: 'rmsnorm',
  normBias: false,
  pool: 'map',
  posEmb: 'learned',
  headBiasInit: 0,
};

const variants: [string, Partial<ModelConfig>][] = [
  ['parallel block, MAP head, RMSNorm, QK-norm (the ViT-22B recipe)', {}],
  ['sequential block, class token, LayerNorm with bias, QKV bias, no QK-norm', { block: 'sequential', pool: 'token', norm: 'layernorm', normBias: true, qkvBias: true, qkNorm: false }],
  ['parallel block, GAP, sincos2d positions, centered QK-norm, QKV bias', { pool: 'gap', posEmb: 'sincos2d', qkNormCenter: true, qkvBias: true, depth: 2 }],
];

describe('ViT gradients through the whole pipeline match central differences', () => {
  variants.forEach(([name, over], k) => {
    test(`${name} (seed ${40 + k})`, async () => {
      const c = { ...micro, ...over };
      const rng = mulberry32(40 + k);
      const batch = 3;
      using p = compileStep(device, (b) => buildVit(b, c, { batch }), { images: [batch, 8, 8, 2], labels: [batch] });
      randomizeParams(p, rng, 0.4);
      const inputs = {
        images: normals(rng, batch * 8 * 8 * 2),
        labels: Int32Array.from({ length: batch }, () => randInt(rng, 0, 2)),
      };
      for (const check of await directionalChecks(p, inputs, rng, 3)) {
        expect(Math.abs(check.analytic)).toBeGreaterThan(1e-3);
        expectClose(check, 3e-2, 2e-3);
      }
    });
  });
});

test('the tiny preset starts at ln(10) and fits a batch of random images', async () => {
  const c = getPreset('tiny');
  const rng = mulberry32(3);
  const batch = 16;
  using p = compileStep(device, (b) => buildVit(b, c, { batch }), { images: [batch, 28, 28, 1], labels: [batch] });
  const inputs = { images: normals(rng, batch * 28 * 28), labels: Int32Array.from({ length: batch }, () => randInt(rng, 0, 9)) };
  const first = await p.run(inputs, { lr: 3e-3, step: 1 });
  expect((first.loss as Float32Array)[0]).toBeCloseTo(Math.log(10), 5);
  let loss = 0;
  for (let step = 2; step <= 40; ++step) loss = ((await p.run(inputs, { lr: 3e-3, step })).loss as Float32Array)[0]!;
  expect(loss).toBeLessThan(0.5);
});

test('the fused projection gradient is a concatenation (no zero fills) and profiling sees every kernel', async () => {
  const c = getPreset('tiny', { depth: 2 });
  const batch = 4;
  using p = compileStep(device, (b) => buildVit(b, c, { batch }), { images: [batch, 28, 28, 1], labels: [batch] });
  const ops = p.main.graph.nodes.map((n) => n.op);
  expect(ops).toContain('scatter_slices');
  expect(ops).not.toContain('slice_grad');
  expect(p.main.lowered.plan.streams[0]!.map((i) => i.kernel)).not.toContain('random_init');
  const rng = mulberry32(9);
  const inputs = { images: normals(rng, batch * 784), labels: new Int32Array(batch) };
  p.setProfiling(true);
  await p.run(inputs, { lr: 1e-3, step: 1 });
  await p.run(inputs, { lr: 1e-3, step: 2 });
  const rows = p.profile();
  expect(rows.reduce((s, r) => s + r.calls, 0)).toBe(p.main.lowered.plan.streams[0]!.length);
  expect(rows.every((r) => r.secondsPerStep >= 0 && r.op !== '?')).toBe(true);
  expect(rows.find((r) => r.kernel === 'attention_bwd')!.secondsPerStep).toBeGreaterThan(0);
});
