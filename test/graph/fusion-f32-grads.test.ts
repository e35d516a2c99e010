/**
 * Fusion of cast(GEMM -> f32): under bf16-mixed precision each weight gradient GEMM writes its f32
 * gradient buffer itself, so the gradient is rounded once (to f32) instead of to bf16 and back.
 */
import { GraphBuilder } from '../../lib/graph/builder';
import { compile, compileGraph } from '../../lib/graph/compile';
import { getPreset } from '../../lib/model';
import { buildVit } from '../../lib/model/vit';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { normals } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const config = getPreset('tiny', { depth: 2, imageSize: 12 });
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

test('the gradients agree with the unfused step within bf16 rounding', async () => {
  const rng = mulberry32(11);
  const images = normals(rng, 4 * 12 * 12);
  const labels = Int32Array.from({ length: 4 }, () => randInt(rng, 0, 9));
  const grads = async (fusion: boolean) => {
    using p = compile(vitModel(config), { device, precision: 'bf16-mixed', train, fusion, seed: 2, inputShapes: { images: [4, 12, 12, 1], labels: [4] } });
    await p.run({ images, labels }, { lr: 0, step: 1 });
    return new Map(p.parameterNames().map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
  };
  const fused = await grads(true);
  const plain = await grads(false);
  for (const [name, g] of plain) {
    const f = fused.get(name)!;
    let scale = 0;
    for (const x of g) scale = Math.max(scale, Math.abs(x));
    // bf16 keeps 8 bits: 2^-8 of the largest element, with room for the rounding of the inputs.
    for (let i = 0; i < g.length; ++i) expect(Math.abs(f[i]! - g[i]!)).toBeLessThanOrEqual(2 ** -6 * scale + 1e-6);
  }
});
