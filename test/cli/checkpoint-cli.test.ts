// train's checkpoint flags in-process: --out puts checkpoints in OUT/checkpoints, --keep prunes,
// --resume continues from the newest, and flags that cannot work are usage errors (exit 2).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cli-run';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-cli-ckpt-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BASE = ['train', '--steps', '6', '--batch', '8', '--progress', 'none', '--json'];

test('--save-every with --out saves to OUT/checkpoints, --keep prunes, --resume continues to the end', async () => {
  const out = path.join(tmp, 'run');
  const r = await cli([...BASE, '--save-every', '2', '--keep', '2', '--out', out]);
  expect(r.code).toBe(0);
  expect(fs.readdirSync(path.join(out, 'checkpoints')).sort()).toEqual(['step-4', 'step-6']);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number });
  expect(lines.filter((l) => l.type === 'checkpoint').map((l) => l.step)).toEqual([2, 4, 6]);
  // Resuming a finished run trains nothing more, and says where it resumed.
  const again = await cli([...BASE, '--resume', path.join(out, 'checkpoints'), '--out', out]);
  expect(again.code).toBe(0);
  const last = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number });
  expect(last.filter((l) => l.type === 'resume').map((l) => l.step)).toEqual([6]);
});

test('--resume DIR/step-<n> continues from that checkpoint and saves beside it, not inside it', async () => {
  const dir = path.join(tmp, 'beside');
  expect((await cli([...BASE, '--steps', '4', '--save-every', '2', '--checkpoint-dir', dir])).code).toBe(0);
  fs.rmSync(path.join(dir, 'step-4'), { recursive: true });
  const r = await cli([...BASE, '--steps', '4', '--save-every', '2', '--resume', path.join(dir, 'step-2')]);
  expect(r.code).toBe(0);
  expect(fs.readdirSync(dir).sort()).toEqual(['step-2', 'step-4']);
  expect(fs.readdirSync(path.join(dir, 'step-2')).sort()).toEqual(['manifest.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json']);
});

test('--save-every with nowhere to save, --keep without --save-every, bad numbers: usage errors', async () => {
  for (const [args, mention] of [
    [['--save-every', '2'], '--save-every'],
    [['--keep', '2', '--out', path.join(tmp, 'x')], '--keep'],
    [['--save-every', '-1', '--out', path.join(tmp, 'x')], '--save-every'],
    [['--save-every', '1', '--keep', '0', '--out', path.join(tmp, 'x')], '--keep'],
  ] as [string[], string][]) {
    const r = await cli([...BASE, ...args]);
    expect(r.code).toBe(2);
    expect(r.err + r.out).toContain(mention);
  }
});

test('--resume of a directory with no checkpoint: ERR_CHECKPOINT none-found', async () => {
  const r = await cli([...BASE, '--resume', path.join(tmp, 'empty')]);
  expect(r.code).toBe(1);
  expect(JSON.parse(r.out)).toMatchObject({ error: { code: 'ERR_CHECKPOINT', rule: 'none-found' } });
});

test('eval --checkpoint evaluates the saved parameters: the same test accuracy and loss as the run that saved them', async () => {
  const dir = path.join(tmp, 'for-eval');
  const trained = await cli([...BASE, '--optimizer', 'adafactor', '--save-every', '6', '--checkpoint-dir', dir]);
  expect(trained.code).toBe(0);
  const t = JSON.parse(trained.out) as { testAccuracy: number; testLoss: number };
  // No --optimizer here: evaluation loads the parameters only.
  const r = await cli(['eval', '--batch', '8', '--json', '--progress', 'none', '--checkpoint', dir]);
  expect(r.code).toBe(0);
  const e = JSON.parse(r.out) as { trainedSteps: number; testAccuracy: number; testLoss: number };
  expect(e.trainedSteps).toBe(6);
  expect(e.testAccuracy).toBe(t.testAccuracy);
  expect(e.testLoss).toBe(t.testLoss);
  const bad = await cli(['eval', '--checkpoint', dir, '--steps', '3']);
  expect(bad.code).toBe(2);
});
