// `vit22b train`, `eval`, `bench step` and `info --model` on tiny budgets: in-process (run() with a
// capturing CliIO) and once as users run it (node dist/cli.js).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DIST_CLI } from '../helpers/paths';
import { cli } from '../helpers/cli-run';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-cli-train-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('train --json on a tiny budget: a summary with testAccuracy, steps, seconds, imagesPerSecond; metrics.jsonl', async () => {
  const out = path.join(tmp, 'run');
  const r = await cli(['train', '--steps', '25', '--batch', '32', '--lr', '3e-3', '--progress', 'none', '--out', out, '--seed', '2', '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const s = JSON.parse(r.out) as Record<string, number>;
  expect(s).toMatchObject({ steps: 25, skipped: 0, batch: 32, model: 'tiny' });
  expect(s.testAccuracy).toBeGreaterThanOrEqual(0);
  expect(s.testAccuracy).toBeLessThanOrEqual(1);
  expect(s.seconds).toBeGreaterThan(0);
  expect(s.imagesPerSecond).toBeGreaterThan(0);
  expect(s.finalLoss).toBeLessThan(Math.log(10)); // below chance: it learned something in 25 steps
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  expect(lines[0]).toMatchObject({ type: 'start', model: 'tiny', steps: 25 });
  expect(lines.filter((l) => l.type === 'step')).toHaveLength(25);
  expect(lines.at(-1)).toMatchObject({ type: 'summary', testAccuracy: s.testAccuracy });
});

test('eval --steps 0 evaluates the initialized model on the whole test set (chance level)', async () => {
  const r = await cli(['eval', '--batch', '250', '--json', '--progress', 'none']);
  expect(r.code).toBe(0);
  const e = JSON.parse(r.out) as Record<string, number>;
  expect(e).toMatchObject({ trainedSteps: 0, examples: 2000 });
  expect(e.testAccuracy).toBeLessThan(0.3);
  expect(e.testTop5).toBeGreaterThanOrEqual(e.testAccuracy!);
});

test('bad train options are usage errors (exit 2) naming the option', async () => {
  for (const [args, mention] of [
    [['train', '--optimizer', 'sgd'], '--optimizer'],
    [['train', '--batch', '0'], '--batch'],
    [['train', '--batch', '30', '--accumulate', '4'], '--accumulate'],
    [['train', '--steps', '3', '--epochs', '1'], '--epochs'],
    [['train', '--frobnicate'], 'frobnicate'],
  ] as [string[], string][]) {
    const r = await cli(args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain(mention);
  }
  const missing = await cli(['train', '--data', path.join(tmp, 'no-such-folder')]);
  expect(missing.code).toBe(1);
  expect(missing.err).toContain('ERR_DATA_NOT_FOUND');
});

test('info --model vit-22b/14 --json counts the paper block matrices and every parameter', async () => {
  const r = await cli(['info', '--model', 'vit-22b/14', '--json']);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.out) as { params: { blockMatrices: number; total: number } };
  expect(info.params.blockMatrices).toBe(21743271936);
  expect(info.params.total).toBeGreaterThan(info.params.blockMatrices);
  const unknown = await cli(['info', '--model', 'vit-q/7']);
  expect(unknown.code).toBe(1);
  expect(unknown.err).toContain('ERR_INVALID_CONFIG');
});

test('node dist/cli.js bench step --json prints images per second of the training step', () => {
  const r = spawnSync(process.execPath, [DIST_CLI, 'bench', 'step', '--preset', 'tiny', '--batch', '16', '--device', 'cpu', '--steps', '2', '--json'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status).toBe(0);
  const b = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(b).toMatchObject({ benchmark: 'step', model: 'tiny', batch: 16, optimizer: 'adamw', precision: 'fp32' });
  expect(b.imagesPerSecond as number).toBeGreaterThan(0);
});

test('train --mesh data=2,model=2 learns the same run as one device (same seed) and reports its mesh', async () => {
  const args = ['train', '--steps', '15', '--batch', '16', '--lr', '3e-3', '--progress', 'none', '--seed', '4', '--json'];
  const one = JSON.parse((await cli(args)).out) as { finalLoss: number; testAccuracy: number; mesh: unknown };
  const r = await cli([...args, '--mesh', 'data=2,model=2']);
  expect(r.code).toBe(0);
  const mesh = JSON.parse(r.out) as typeof one;
  expect(one.mesh).toEqual({ data: 1, model: 1 });
  expect(mesh.mesh).toEqual({ data: 2, model: 2 });
  // The same steps up to summation order: losses agree far below their change over the run.
  expect(Math.abs(mesh.finalLoss - one.finalLoss)).toBeLessThan(1e-3);
  expect(Math.abs(mesh.testAccuracy - one.testAccuracy)).toBeLessThanOrEqual(0.01);
  const bad = await cli(['train', '--steps', '1', '--mesh', 'model=3']);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/ERR_(USAGE|INVALID_CONFIG).*heads 4 is not divisible by model=3/s);
});
