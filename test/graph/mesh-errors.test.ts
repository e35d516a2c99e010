/**
 * Failures on a mesh: a NaN in one data shard's images stops the step on every device (the loss and
 * gradient norm the guard checks are reduced over the mesh first, so all ranks take the same
 * decision) and changes no parameter anywhere; the next clean step runs. A program on a mesh still
 * refuses wrong inputs with the global shapes in the message.
 */
import { compile } from '../../lib/graph/compile';
import { getPreset } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { rejectionOf } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const config = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 1, heads: 4, mlpDim: 64, numClasses: 5 });

test('a NaN on one data shard rejects the step on all devices, leaves every parameter, and the mesh goes on', async () => {
  using p = compile(vitModel(config), {
    device,
    mesh: { data: 2, model: 2 },
    inputShapes: { images: [4, 8, 8, 3], labels: [4] },
    train: { loss: 'loss', optimizer: { kind: 'adamw' }, clipNorm: 1 },
  });
  const rng = mulberry32(9);
  const images = normals(rng, 4 * 8 * 8 * 3);
  const labels = Int32Array.from([0, 1, 2, 3]);
  await p.run({ images, labels }, { lr: 1e-2, step: 1 });
  const before = new Map(p.bufferNames().filter((n) => !n.startsWith('grad/')).map((n) => [n, Buffer.from((p.read(n) as Float32Array).slice().buffer)]));
  const bad = images.slice();
  bad[3 * 8 * 8 * 3 + 5] = NaN; // example 3: data rank 1's shard only
  const e = await rejectionOf(p.run({ images: bad, labels }, { lr: 1e-2, step: 2 }));
  expect(e).toMatchObject({ code: 'ERR_NON_FINITE' });
  for (const [n, b] of before) expect(Buffer.from((p.read(n) as Float32Array).slice().buffer).equals(b)).toBe(true);
  const out = await p.run({ images, labels }, { lr: 1e-2, step: 2 });
  expect(Number.isFinite((out.loss as Float32Array)[0])).toBe(true);
});

test('inputs are checked against the global shapes', async () => {
  using p = compile(vitModel(config), { device, mesh: { data: 2, model: 1 }, inputShapes: { images: [4, 8, 8, 3], labels: [4] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
  const e = await rejectionOf(p.run({ images: new Float32Array(2 * 8 * 8 * 3), labels: new Int32Array(4) }, { lr: 0, step: 1 }));
  expect(e).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: `${4 * 8 * 8 * 3} elements` });
});

test('run({ shard: true }) is refused where every data shard is in this process (a virtual mesh, one device)', async () => {
  using meshed = compile(vitModel(config), { device, mesh: { data: 2, model: 1 }, inputShapes: { images: [4, 8, 8, 3], labels: [4] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
  const half = { images: { data: new Float32Array(2 * 8 * 8 * 3).fill(0.5), shape: [2, 8, 8, 3] }, labels: { data: Int32Array.from([1, 2]), shape: [2] } };
  const e = await rejectionOf(meshed.run(half, { lr: 0, step: 1 }, { shard: true }));
  expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'a multi-process session, or shard: false', received: 'a session of 2 device(s) in this process' });
  using single = compile(vitModel(config), { device, inputShapes: { images: [2, 8, 8, 3], labels: [2] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
  expect(await rejectionOf(single.run(half, { lr: 0, step: 1 }, { shard: true }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'a session of 1 device(s) in this process' });
});
