/**
 * lib/eval/features: features extracted batch by batch (with a padded last batch) equal those of
 * one forward pass over all the images at once; the pixel baseline's rows are the normalized
 * bytes; labels follow the data set's order.
 */
import { DataLoader } from '../../lib/data/loader';
import { syntheticDataset } from '../../lib/data/synthetic';
import { compileFeatureProgram, extractFeatures, extractPixels } from '../../lib/eval/features';
import { getPreset } from '../../lib/model/presets';
import { openDevice } from '../../lib/runtime';

const config = getPreset('tiny', { imageSize: 16, width: 32, depth: 1, heads: 2, mlpDim: 64 });
const ds = syntheticDataset({ size: 10, seed: 3, imageSize: 16 });

test('batched features equal one pass over every image, rows in order', async () => {
  using device = openDevice({ device: 'cpu' });
  using program = compileFeatureProgram(device, config, 4);
  const loader = new DataLoader(ds, { batch: 4, seed: 0, shuffle: false, dropLast: false });
  const f = await extractFeatures(program, loader, config.width);
  expect([f.n, f.dim]).toEqual([10, 32]);
  expect(Array.from(f.labels)).toEqual(Array.from(ds.labels));
  const whole = new DataLoader(ds, { batch: 10, seed: 0, shuffle: false, dropLast: false }).batchAt(0);
  // The same parameters (same program), run on all 10 images at once: a new shape variant.
  const all = (await program.run({ images: { data: whole.images, shape: [10, 16, 16, 1] }, labels: { data: new Int32Array(10), shape: [10] } }, {}, { mode: 'forward' })).features as Float32Array;
  for (let i = 0; i < all.length; ++i) expect(f.x[i]!).toBeCloseTo(all[i]!, 4);
});

test('pixel features are the normalized images, flattened', async () => {
  const loader = new DataLoader(ds, { batch: 3, seed: 0, shuffle: false, dropLast: false });
  const p = await extractPixels(loader);
  expect([p.n, p.dim]).toEqual([10, 256]);
  const [m, s] = [ds.mean[0]!, ds.std[0]!];
  for (let i = 0; i < ds.images.length; ++i) expect(p.x[i]!).toBeCloseTo((ds.images[i]! / 255 - m) / s, 5);
  await expect(extractPixels(new DataLoader(ds, { batch: 3, seed: 0, shuffle: true, dropLast: false }))).rejects.toThrow(/in order/);
});
