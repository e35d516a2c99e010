/**
 * `vit22b probe` and `vit22b fewshot` end to end on a tiny budget: a checkpoint from a 2-step
 * `vit22b train --save-every` run on synthetic data, with a 1-block 16x16 model; the numbers are
 * not judged here (lib/eval's tests check the solvers), only that every piece runs and agrees:
 * the features file holds what the probe used, JSON and text say the same, bad options are usage errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { SafetensorsFile } from '../../lib/io/safetensors';
import { getPreset } from '../../lib/model/presets';
import { cli } from '../helpers/cli-run';

let tmp: string;
let model: string[];
let checkpoints: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-probe-'));
  const config = path.join(tmp, 'config.json');
  fs.writeFileSync(config, JSON.stringify(getPreset('tiny', { imageSize: 16, width: 32, depth: 1, heads: 2, mlpDim: 64 })));
  model = ['--config', config, '--batch', '256', '--device', 'cpu'];
  checkpoints = path.join(tmp, 'ckpt');
  const r = await cli(['train', ...model, '--steps', '2', '--save-every', '2', '--checkpoint-dir', checkpoints, '--progress', 'none', '--json']);
  expect(r.code).toBe(0);
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('probe: the linear probe and the raw-pixel baseline, and --features-out', async () => {
  const file = path.join(tmp, 'features.safetensors');
  const r = await cli(['probe', '--checkpoint', checkpoints, ...model, '--l2', '1e-3', '--max-iter', '15', '--pixel-max-iter', '15', '--features-out', file, '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out) as { step: number; train: number; test: number; features: number; probe: { testAccuracy: number; l2: number; solver: string }; pixels: { testAccuracy: number } };
  expect([j.step, j.train, j.test, j.features]).toEqual([2, 10_000, 2_000, 32]);
  expect(j.probe.l2).toBe(1e-3);
  // The solver ran on the opened device (the data term through the kernels), not the host loops.
  expect(j.probe.solver).not.toBe('host');
  // Ten classes: both must beat chance by far on these easy shapes, even from a 2-step model.
  expect(j.probe.testAccuracy).toBeGreaterThan(0.2);
  expect(j.pixels.testAccuracy).toBeGreaterThan(0.2);
  using f = SafetensorsFile.open(file);
  expect(f.entry('train_features').shape).toEqual([10_000, 32]);
  expect(f.entry('test_features').shape).toEqual([2_000, 32]);
  expect(f.entry('test_labels').dtype).toBe('I32');
}, 60_000);

test('fewshot: one row per shot count, text output', async () => {
  const r = await cli(['fewshot', '--checkpoint', checkpoints, ...model, '--shots', '1,5', '--seeds', '2']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^1-shot: test accuracy \d+\.\d\d% \+- \d+\.\d\d \(L2 [\d.e+-]+\)$/m);
  expect(r.out).toMatch(/^5-shot: test accuracy /m);
  expect(r.out).toContain('ridge L2 chosen on held-out train');
}, 60_000);

test('fewshot --l2 fixes the ridge L2; JSON reports it per shot count', async () => {
  const r = await cli(['fewshot', '--checkpoint', checkpoints, ...model, '--shots', '2', '--seeds', '1', '--l2', '0.5', '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out) as { l2: number; fewShot: { shots: number; l2: number; validation: unknown[] }[] };
  expect(j.l2).toBe(0.5);
  expect(j.fewShot).toEqual([expect.objectContaining({ shots: 2, l2: 0.5, validation: [] })]);
}, 60_000);

test('bad options are usage errors', async () => {
  for (const args of [
    ['probe', ...model],
    ['probe', '--checkpoint', checkpoints, ...model, '--steps', '3'],
    ['probe', '--checkpoint', checkpoints, ...model, '--l2', 'x'],
    ['probe', '--checkpoint', checkpoints, ...model, '--pixel-max-iter', '0'],
    ['fewshot', '--checkpoint', checkpoints, ...model, '--l2', '0'],
    ['fewshot', '--checkpoint', checkpoints, ...model, '--shots', '1,0'],
  ]) {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
  }
});
