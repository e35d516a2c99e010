/**
 * The fusions a ViT training step gets, on the real model builder:
 *  - cast(GEMM -> f32): under bf16-mixed each weight-gradient GEMM writes its f32 gradient buffer
 *    itself, rounded once (to f32) instead of to bf16 and back;
 *  - an f32 master bias in the GEMM epilogue of a bf16 GEMM;
 *  - bias_add folded into GELU and its gradient (the parallel block's MLP input, cut out of z);
 *  - the residual gradient added by the norm backward.
 * Fused and unfused steps must give the same gradients within the rounding of the storage type.
 */
import { GraphBuilder } from '../../lib/graph/builder';
import { compile, compileGraph } from '../../lib/graph/compile';
import { getPreset, type ModelConfig } from '../../lib/model';
import { buildVit } from '../../lib/model/vit';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { normals, randomizeParams } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const config = getPreset('tiny', { depth: 2, imageSize: 12 });
const classic = getPreset('vit-ti/16', { depth: 2, imageSize: 16, patchSize: 4, width: 32, heads: 4, mlpDim: 64, numClasses: 7 });
const train = { loss: 'loss', optimizer: { kind: 'adamw' as const } };

test('every weight-gradient GEMM writes f32 and no gradient is cast afterwards', () => {
  const b = new GraphBuilder({ precision: 'bf16-mixed' });
  buildVit(b, config, { batch: 2 });
  const c = compileGraph(b.graph, { train });
  const plan = c.lowered.plan.streams[0]!;
  const f32Gemms = plan.filter((i) => i.kernel === 'gemm' && i.spec.abType === 'bf16' && i.spec.cType === 'f32');
  // The GEMM weights (pos and map/probe are matrices too, but no GEMM's operand).
  const weights = c.memory.persistent.filter((p) => p.kind === 'param' && p.name.endsWith('/w'));
  const matrices = weights.length;
  expect(matrices).toBe(11);
  expect(c.fusion!.f32Out).toBe(matrices);
  expect(f32Gemms.length).toBe(matrices);
  // What is still cast bf16 -> f32 in the backward is small: norm scales and the like, no matrix.
  const casts = plan.filter((i) => i.kernel === 'cast' && i.spec.from === 'bf16' && i.spec.to === 'f32');
  const biggest = Math.max(0, ...casts.map((i) => i.spec.n as number));
  expect(biggest).toBeLessThan(Math.min(...weights.map((p) => p.type.shape[0]! * p.type.shape[1]!)));
});

test('each fusion fires where the block has its pattern', () => {
  const report = (c: ModelConfig, precision: 'fp32' | 'bf16-mixed') => {
    const b = new GraphBuilder({ precision });
    buildVit(b, c, { batch: 2 });
    return compileGraph(b.graph, { train }).fusion!;
  };
  // Parallel block (ViT-22B): the MLP bias meets GELU after a slice of z, the out-projection bias
  // goes into its GEMM with the residual, the block's norm backward takes the residual gradient.
  for (const precision of ['fp32', 'bf16-mixed'] as const) {
    const r = report(config, precision);
    expect(r.biasGelu).toBe(config.depth);
    expect(r.normResidual).toBeGreaterThanOrEqual(config.depth);
    expect(r.bias).toBeGreaterThanOrEqual(config.depth);
    expect(r.residual).toBeGreaterThanOrEqual(config.depth);
  }
  // Classic block: every dense bias in its GEMM, in bf16-mixed too (f32 bias, bf16 output).
  const r = report(classic, 'bf16-mixed');
  expect(r.bias).toBeGreaterThanOrEqual(4 * classic.depth);
  expect(r.normResidual).toBeGreaterThanOrEqual(2 * classic.depth - 1);
});

describe.each([
  ['parallel, QK-norm, MAP', config],
  ['sequential, class token', classic],
] as const)('%s: fused and unfused gradients agree', (_name, c) => {
  async function grads(precision: 'fp32' | 'bf16-mixed', fusion: boolean) {
    const rng = mulberry32(11);
    const shape = [4, c.imageSize, c.imageSize, c.channels];
    const images = normals(rng, shape.reduce((a, b) => a * b, 1));
    const labels = Int32Array.from({ length: 4 }, () => randInt(rng, 0, c.numClasses - 1));
    using p = compile(vitModel(c), { device, precision, train, fusion, seed: 2, inputShapes: { images: shape, labels: [4] } });
    // Random parameters everywhere: the recipe's zero-initialised head would make every gradient
    // below it zero.
    randomizeParams(p, mulberry32(12), 0.2);
    await p.run({ images, labels }, { lr: 0, step: 1 });
    return new Map(p.parameterNames().map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
  }
  const worst = (a: Map<string, Float32Array>, ref: Map<string, Float32Array>) => {
    let err = 0;
    for (const [name, r] of ref) {
      const x = a.get(name)!;
      let scale = 0;
      for (const v of r) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < r.length; ++i) err = Math.max(err, Math.abs(x[i]! - r[i]!) / scale);
    }
    return err;
  };

  test('fp32: within f32 rounding (only the order of roundings differs)', async () => {
    expect(worst(await grads('fp32', true), await grads('fp32', false))).toBeLessThan(1e-4);
  });

  test('bf16-mixed: fusion makes the gradients no less accurate (against fp32)', async () => {
    const ref = await grads('fp32', false);
    const fused = worst(await grads('bf16-mixed', true), ref);
    const plain = worst(await grads('bf16-mixed', false), ref);
    // Both carry bf16 rounding of activations (a few 2^-8 relative, grown through the layers);
    // fusing rounds less often, so it must not be worse (10% slack for where the roundings fall).
    expect(plain).toBeGreaterThan(0);
    expect(fused).toBeLessThan(0.1);
    expect(fused).toBeLessThanOrEqual(plain * 1.1);
  });
});
