/**
 * Gradients through the partitioning pass, checked by finite differences of the sharded program
 * itself: on a 2x2 mesh, the loss's directional derivative along random unit directions over every
 * (global) parameter, from central differences of the mesh's own loss, against <grad, u> assembled
 * from the devices' gradient slices. Tolerance as test/graph/gradients.test.ts: 2e-2 relative + 2e-3
 * (f32 forward, h = 1e-2).
 */
import { compile } from '../../lib/graph/compile';
import { getPreset } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { directionalChecks, expectClose, normals, randomizeParams } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

test.each([
  ['ViT-22B recipe (parallel, QK-norm, MAP)', getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 16, depth: 1, heads: 2, mlpDim: 32, numClasses: 3 })],
  ['classic (sequential, class token)', getPreset('vit-ti/16', { imageSize: 8, patchSize: 4, channels: 3, width: 16, depth: 1, heads: 2, mlpDim: 32, numClasses: 3 })],
])('%s on a 2x2 mesh: gradients match finite differences of the sharded loss', async (_name, config) => {
  using p = compile(vitModel(config), {
    device,
    mesh: { data: 2, model: 2 },
    inputShapes: { images: [4, 8, 8, 3], labels: [4] },
    train: { loss: 'loss', optimizer: { kind: 'none' }, checkFinite: false },
  });
  const rng = mulberry32(3);
  randomizeParams(p, rng, 0.3);
  const inputs = { images: normals(rng, 4 * 8 * 8 * 3), labels: Int32Array.from({ length: 4 }, () => randInt(rng, 0, 2)) };
  const checks = await directionalChecks(p, inputs, rng, 3, 1e-2);
  for (const c of checks) expectClose(c, 2e-2, 2e-3);
  // Not a vacuous check: the directions see real gradient.
  expect(Math.max(...checks.map((c) => Math.abs(c.analytic)))).toBeGreaterThan(1e-2);
});
