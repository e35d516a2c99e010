/**
 * Sharded training steps against the unsharded one: a small ViT-22B-recipe model (parallel block,
 * QK-norm, MAP head) and a classic one (sequential blocks, class token), compiled for meshes 1x1,
 * 2x1, 1x2, 2x2, 1x4 and 4x1 (data x model) of virtual CPU devices, start from the same random
 * weights and take 5 steps on the same batches. Loss, gradient norm, every gradient after the first
 * step and every parameter after the last must match the unsharded run; they differ only by the
 * order of floating-point sums (tolerances below, relative to each tensor's largest magnitude).
 * The same mesh run twice is bitwise the same.
 */
import type { CompileOptions } from '../../lib/graph/compile';
import type { MeshShape } from '../../lib/graph/sharding';
import type { OptimizerSpec } from '../../lib/graph/training-step';
import { getPreset, type ModelConfig } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { expectRunsClose, trainOnMesh, type MeshRun } from '../helpers/mesh-runs';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const recipe: ModelConfig = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
const classic: ModelConfig = getPreset('vit-ti/16', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
const BATCH = 8;
const STEPS = 5;

type Run = MeshRun;

const train = (config: ModelConfig, mesh: MeshShape | undefined, precision: 'fp32' | 'bf16-mixed', optimizer: OptimizerSpec, extra: Partial<CompileOptions> = {}): Promise<Run> =>
  trainOnMesh(device, config, mesh, precision, optimizer, extra, { batch: BATCH, steps: STEPS });

const MESHES: MeshShape[] = [
  { data: 1, model: 1 },
  { data: 2, model: 1 },
  { data: 1, model: 2 },
  { data: 2, model: 2 },
  { data: 1, model: 4 },
  { data: 4, model: 1 },
];
// eps 1e-3: the key biases (map/kv/b's first half, attn/qkv/b's k part) have an exact gradient of
// zero (softmax ignores a shift shared by every logit of a row), so what reaches them is rounding
// noise, and Adam with a tiny eps turns noise of either sign into full lr-sized steps, different for
// any summation order. A larger eps keeps such steps at noise level; every other update is unchanged
// in kind.
const adamw: OptimizerSpec = { kind: 'adamw', weightDecay: 1e-4, eps: 1e-3 };

// fp32: summation order only (1e-4 of each tensor's scale). bf16-mixed: activations are rounded to
// bf16 (8 bits of mantissa), so a different f32 summation order can move a stored activation by one
// bf16 step (2^-8 relative); the looser bounds cover that, still far below a real layout error,
// which moves gradients by O(1) of their scale.
const TOL = {
  fp32: { scalar: 1e-5, grad: 1e-4, param: 1e-4 },
  'bf16-mixed': { scalar: 1e-2, grad: 5e-2, param: 5e-2 },
} as const;

describe.each(['fp32', 'bf16-mixed'] as const)('ViT-22B recipe (parallel, QK-norm, MAP), %s, AdamW', (precision) => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(recipe, undefined, precision, adamw);
  });
  test.each(MESHES)('mesh data=$data model=$model matches the unsharded run', async (mesh) => {
    expectRunsClose(await train(recipe, mesh, precision, adamw), reference, TOL[precision]);
  });
});

// Adafactor keeps its momentum in bf16 (the recipe): a summation-order difference can flip a stored
// momentum by one bf16 step, which moves that element's update by 2^-8 of lr; hence 1e-3 on params.
// eps (epsilon1, added to grad^2) 1e-6 for the reason AdamW's eps is raised above.
const adafactor: OptimizerSpec = { kind: 'adafactor', weightDecay: 0.03, eps: 1e-6 };
describe('ViT-22B recipe, fp32, Adafactor (factored, with row and column shards)', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(recipe, undefined, 'fp32', adafactor);
  });
  test.each(MESHES.slice(1))('mesh data=$data model=$model matches the unsharded run', async (mesh) => {
    expectRunsClose(await train(recipe, mesh, 'fp32', adafactor), reference, { scalar: 1e-5, grad: 1e-4, param: 1e-3 });
  });
});

describe('classic ViT (sequential blocks, class token, LayerNorm with bias), fp32, AdamW', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(classic, undefined, 'fp32', adamw);
  });
  test.each(MESHES.slice(1))('mesh data=$data model=$model matches the unsharded run', async (mesh) => {
    expectRunsClose(await train(classic, mesh, 'fp32', adamw), reference, TOL.fp32);
  });
});

test('the same mesh reproduces bit for bit', async () => {
  const a = await train(recipe, { data: 2, model: 2 }, 'fp32', adamw);
  const b = await train(recipe, { data: 2, model: 2 }, 'fp32', adamw);
  expect(b.losses).toEqual(a.losses);
  for (const [n, v] of a.params) expect(Buffer.compare(Buffer.from(b.params.get(n)!.buffer), Buffer.from(v.buffer))).toBe(0);
});

describe('ZeRO-3 (large weights, gradients and AdamW state split over data too)', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(recipe, undefined, 'fp32', adamw);
  });
  test.each([
    { data: 2, model: 1 },
    { data: 2, model: 2 },
    { data: 4, model: 1 },
  ])('mesh data=$data model=$model with zero 3 matches the unsharded run', async (mesh) => {
    expectRunsClose(await train(recipe, mesh, 'fp32', adamw, { zero: 3 }), reference, TOL.fp32);
  });
  test('bf16-mixed: weights gathered in bf16 (cast on the slice) match the unsharded bf16-mixed run', async () => {
    const want = await train(recipe, undefined, 'bf16-mixed', adamw);
    expectRunsClose(await train(recipe, { data: 2, model: 2 }, 'bf16-mixed', adamw, { zero: 3 }), want, TOL['bf16-mixed']);
  });
  test('with remat block it re-gathers the weights for the backward and still matches', async () => {
    expectRunsClose(await train(recipe, { data: 2, model: 2 }, 'fp32', adamw, { zero: 3, remat: 'block' }), reference, TOL.fp32);
  });
});

describe("overlap 'streams' (collectives on a communication stream, run on their own thread)", () => {
  test.each([
    [{ data: 2, model: 1 }, {}],
    [{ data: 2, model: 2 }, {}],
    [{ data: 2, model: 2 }, { zero: 3 as const }],
    [{ data: 1, model: 4 }, { remat: 'block' as const }],
  ])('mesh %j %j gives bitwise the one-stream results', async (mesh, extra) => {
    const serial = await train(recipe, mesh, 'fp32', adamw, extra);
    const streams = await train(recipe, mesh, 'fp32', adamw, { ...extra, overlap: 'streams' });
    expect(streams.losses).toEqual(serial.losses);
    for (const [n, v] of serial.params) if (!Buffer.from(streams.params.get(n)!.buffer).equals(Buffer.from(v.buffer))) throw new Error(`${n} differs with overlap streams`);
    for (const [n, v] of serial.grads) if (!Buffer.from(streams.grads.get(n)!.buffer).equals(Buffer.from(v.buffer))) throw new Error(`grad/${n} differs with overlap streams`);
  });
});

describe('ZeRO-3 with Adafactor: factored statistics reduced over the axes that split rows and columns', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(recipe, undefined, 'fp32', adafactor);
  });
  // 2x1 and 4x1: in/w's rows split over data; 2x2: in/w's rows over data and columns over model,
  // out/w's rows over model and columns over data (both statistics and vrSum all-reduced).
  test.each([
    { data: 2, model: 1 },
    { data: 2, model: 2 },
    { data: 4, model: 1 },
  ])('mesh data=$data model=$model with zero 3 matches the unsharded Adafactor run', async (mesh) => {
    expectRunsClose(await train(recipe, mesh, 'fp32', adafactor, { zero: 3 }), reference, { scalar: 1e-5, grad: 1e-4, param: 1e-3 });
  });
});
