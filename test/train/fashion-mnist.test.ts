/**
 * The end-to-end check CI can afford: the tiny preset (the ViT-22B recipe at 28x28) trained by the
 * Trainer on the real Fashion-MNIST for 1.5 epochs (about a minute on two cores) reaches at least
 * 80% on the whole 10,000-image test set. No timing is asserted. The full recipe (8 epochs, about
 * 89.5%) is `npx vit22b train --preset tiny --data fashion-mnist`, reported in the README.
 */
import { openDevice, type Device } from '../../lib/runtime';
import { DataLoader, loadFashionMnist } from '../../lib/data';
import { getPreset } from '../../lib/model';
import { Trainer } from '../../lib/train/trainer';
import { vitModel } from '../../lib/train/vit-model';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

test('tiny ViT on Fashion-MNIST: >= 80% test accuracy after 1.5 epochs', async () => {
  const trainSet = loadFashionMnist({ split: 'train' });
  const testSet = loadFashionMnist({ split: 'test' });
  expect([trainSet.size, testSet.size]).toEqual([60000, 10000]);
  const train = new DataLoader(trainSet, { batch: 128, seed: 0, shuffle: true, dropLast: true });
  const test = new DataLoader(testSet, { batch: 500, seed: 0, shuffle: false, dropLast: false, lastBatch: 'short', normalize: { mean: trainSet.mean, std: trainSet.std } });
  const steps = Math.round(1.5 * train.stepsPerEpoch);
  using trainer = new Trainer({
    device,
    model: vitModel(getPreset('tiny')),
    train,
    test,
    steps,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', lr: 2e-3, warmup: Math.round(0.05 * steps) },
    clipNorm: 1,
    seed: 0,
  });
  const losses: number[] = [];
  for await (const ev of trainer.steps()) if (ev.type === 'step') losses.push(ev.loss);
  const summary = trainer.summary!;
  expect(losses.length).toBe(steps);
  expect(losses[0]!).toBeGreaterThan(2); // ln 10 = 2.30 at the zero-initialized classifier
  expect(summary.testAccuracy).toBeGreaterThanOrEqual(0.8);
}, 600_000);
