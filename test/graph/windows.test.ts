/**
 * The windows pass (lib/graph/passes/windows.ts): slices read in place and concatenation pieces
 * written in place. Windows change where values live, never what a kernel computes, so training
 * with windows on and off must agree bit for bit; and the plan must lose copies, not gain memory.
 */
import { GraphBuilder, type Precision } from '../../lib/graph/builder';
import { compile, compileGraph } from '../../lib/graph/compile';
import { getPreset, type ModelConfig } from '../../lib/model';
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

const train = { loss: 'loss', optimizer: { kind: 'adamw' as const, weightDecay: 1e-4 }, clipNorm: 1 };

const models: [string, ModelConfig][] = [
  // ViT-22B's block: q, k, v and the MLP input are windows of one projection output.
  ['parallel, QK-norm, MAP', getPreset('tiny', { depth: 2, imageSize: 12 })],
  // The classic block: QKV slices straight into attention; class token.
  ['sequential, class token', getPreset('vit-ti/16', { depth: 2, imageSize: 16, patchSize: 4, width: 32, heads: 4, mlpDim: 64, numClasses: 7 })],
];

function kernelsOf(config: ModelConfig, precision: Precision, windows: boolean, batch = 3) {
  const b = new GraphBuilder({ precision });
  buildVit(b, config, { batch });
  const c = compileGraph(b.graph, { train, windows });
  const count: Record<string, number> = {};
  for (const ins of c.lowered.plan.streams[0]!) count[ins.kernel] = (count[ins.kernel] ?? 0) + 1;
  return { count, arena: c.memory.arenaBytes, report: c.windows?.report };
}

describe.each(models)('%s', (_name, config) => {
  test('windows remove copies and do not grow the arena', () => {
    for (const precision of ['fp32', 'bf16-mixed'] as const) {
      const on = kernelsOf(config, precision, true);
      const off = kernelsOf(config, precision, false);
      expect(on.report!.slices + on.report!.pieces).toBeGreaterThanOrEqual(2 * config.depth);
      expect(on.count.strided_copy ?? 0).toBeLessThan(off.count.strided_copy!);
      // compile keeps only windows that do not grow the planned arena.
      expect(on.arena).toBeLessThanOrEqual(off.arena);
    }
  });

  test.each(['fp32', 'bf16-mixed'] as const)('%s: three training steps agree bit for bit with windows on and off', async (precision) => {
    const rng = mulberry32(config.width);
    const batch = 3;
    const images = normals(rng, batch * config.imageSize * config.imageSize * config.channels);
    const labels = Int32Array.from({ length: batch }, () => randInt(rng, 0, config.numClasses - 1));
    const run = async (windows: boolean) => {
      using p = compile(vitModel(config), {
        device,
        precision,
        train,
        windows,
        seed: 5,
        inputShapes: { images: [batch, config.imageSize, config.imageSize, config.channels], labels: [batch] },
      });
      const losses: number[] = [];
      for (let step = 1; step <= 3; ++step) losses.push((((await p.run({ images, labels }, { lr: 3e-3, step })).loss as Float32Array)[0])!);
      const params = p.parameterNames().map((n) => Buffer.from((p.read(n) as Float32Array).buffer));
      return { losses, params };
    };
    const on = await run(true);
    const off = await run(false);
    expect(on.losses.every(Number.isFinite)).toBe(true);
    expect(on.losses).toEqual(off.losses);
    on.params.forEach((b, i) => expect(b.equals(off.params[i]!)).toBe(true));
  });
});

test('on the benchmark workload (ViT-22B width, 4 layers, batch 128) every slice and piece is a window and the arena shrinks', () => {
  const config = getPreset('vit-22b/14', { depth: 4 });
  const on = kernelsOf(config, 'bf16-mixed', true, 128);
  const off = kernelsOf(config, 'bf16-mixed', false, 128);
  // Per block, slices: q, k, v, m out of z and the two halves of the out-projection input's
  // gradient; pieces: attention's and GELU's outputs side by side, and dq, dk, dv, dm in dz. The MAP
  // head: k and v out of kv, dk and dv into dkv.
  expect(on.report).toEqual({ slices: 6 * 4 + 2, pieces: 6 * 4 + 2 });
  expect(on.count.strided_copy ?? 0).toBe(1); // the MAP probe broadcast over the batch
  expect(off.count.strided_copy).toBe(1 + 12 * 4 + 4);
  expect(on.arena).toBeLessThan(off.arena);
});

describe('what stays a copy', () => {
  const copies = (c: ReturnType<typeof compileGraph>) => c.lowered.plan.streams[0]!.filter((i) => i.kernel === 'strided_copy').length;

  test('slices that cover their source and are all read with strides are windows', () => {
    const b = new GraphBuilder();
    const z = b.input('z', [2, 5, 24]);
    b.output('o', b.attention(b.slice(z, 2, 0, 8), b.slice(z, 2, 8, 16), b.slice(z, 2, 16, 24), { heads: 2 }));
    const c = compileGraph(b.graph, {});
    expect(c.windows!.report.slices).toBe(3);
    expect(copies(c)).toBe(0);
  });

  test('a slice read by an op without strides (matmul) is copied, and so are its siblings: a window would keep all of z alive', () => {
    const b = new GraphBuilder();
    const z = b.input('z', [2, 5, 24]);
    const v = b.slice(z, 2, 16, 24);
    b.output('o', b.attention(b.slice(z, 2, 0, 8), b.slice(z, 2, 8, 16), b.matmul(v, b.param('w', [8, 8])), { heads: 2 }));
    const c = compileGraph(b.graph, {});
    expect(c.windows!.report.slices).toBe(0);
    expect(copies(c)).toBe(3);
  });

  test('when the source is read later anyway, a partial set of slices is free to be windows', () => {
    const b = new GraphBuilder();
    const z = b.input('z', [2, 5, 24]);
    const v = b.slice(z, 2, 16, 24);
    const o = b.attention(b.slice(z, 2, 0, 8), b.slice(z, 2, 8, 16), b.matmul(v, b.param('w', [8, 8])), { heads: 2 });
    b.output('y', b.add(b.matmul(z, b.param('w2', [24, 8])), o));
    const c = compileGraph(b.graph, {});
    expect(c.windows!.report.slices).toBe(2);
    expect(copies(c)).toBe(1);
  });

  test('a slice that is a program output is copied (outputs download dense memory)', () => {
    const b = new GraphBuilder();
    const z = b.input('z', [2, 5, 24]);
    const q = b.slice(z, 2, 0, 8);
    b.output('q', q);
    b.output('o', b.attention(q, b.slice(z, 2, 8, 16), b.slice(z, 2, 16, 24), { heads: 2 }));
    const c = compileGraph(b.graph, {});
    expect(c.windows!.report.slices).toBe(0);
    expect(copies(c)).toBe(3);
  });

  test('attention reads a window and writes into a concatenation, and the numbers match dense copies', async () => {
    const rng = mulberry32(3);
    const build = (b: GraphBuilder) => {
      const z = b.input('z', [2, 5, 24]);
      const o = b.attention(b.slice(z, 2, 0, 8), b.slice(z, 2, 8, 16), b.slice(z, 2, 16, 24), { heads: 2 });
      b.output('y', b.concat([b.slice(z, 2, 0, 4), o, b.slice(z, 2, 4, 8)], 2));
    };
    const z = normals(rng, 2 * 5 * 24);
    const out = async (windows: boolean) => {
      const b = new GraphBuilder();
      build(b);
      using p = compile(b.graph, { device, windows });
      if (windows) expect(p.main.windows!.report).toEqual({ slices: 3, pieces: 1 });
      return (await p.run({ z })).y as Float32Array;
    };
    expect(Buffer.from((await out(true)).buffer).equals(Buffer.from((await out(false)).buffer))).toBe(true);
  });
});
