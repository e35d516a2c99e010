/**
 * Issue 16: kill -9 during sharded saves. `vit22b train --mesh data=2,model=2 --zero 3 --save-every 1
 * --keep 2` is SIGKILLed 10 times at random moments after it has started saving (each time resumed
 * from its own newest checkpoint), so kills land inside saves of the four rank files, the index, the
 * manifest, the rename and the pruning. After every kill the newest committed checkpoint verifies
 * (every rank file's SHA-256), no committed checkpoint fails verification, the newest step never goes
 * backwards, and the final one loads into a one-device program. Runs the built CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { compile } from '../../lib/graph/compile';
import { latestCheckpoint, listCheckpoints, loadCheckpoint, readTrainerJson } from '../../lib/io/checkpoint';
import { readManifest } from '../../lib/io/checkpoint-manifest';
import { validateConfig } from '../../lib/model/config';
import { openDevice } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { DIST_CLI } from '../helpers/paths';
import { mulberry32 } from '../helpers/prng';

let tmp: string;
let child: ChildProcess | undefined;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-kill-'));
});
afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Polls `cond` every 20 ms; rejects past `deadlineMs` (a deadline, not a timing assertion). */
async function waitFor(cond: () => boolean, what: string, deadlineMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (child && child.exitCode !== null) throw new Error(`the run exited (${child.exitCode}) while waiting for ${what}`);
    if (Date.now() - t0 > deadlineMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const newestStep = (dir: string) => listCheckpoints(dir)[0]?.step ?? 0;

test('10 SIGKILLs at random moments of a 2x2 ZeRO-3 run saving every step: the newest checkpoint always verifies and never goes backwards', async () => {
  const dir = path.join(tmp, 'ckpt');
  const rng = mulberry32(16);
  let newest = 0;
  let midSave = 0;
  for (let round = 0; round < 10; ++round) {
    const start = newest === 0 ? ['--checkpoint-dir', dir] : ['--resume', dir];
    child = spawn(process.execPath, [DIST_CLI, 'train', '--mesh', 'data=2,model=2', '--zero', '3', '--steps', '100000', '--batch', '8', '--save-every', '1', '--keep', '2', '--progress', 'none', ...start], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child!.on('exit', () => resolve()));
    // Past the resume: this run has committed a step of its own.
    const from = newest;
    await waitFor(() => newestStep(dir) > from, `round ${round}'s first save`);
    await new Promise((r) => setTimeout(r, Math.floor(rng() * 400)));
    child.kill('SIGKILL');
    await exited;
    if (fs.readdirSync(dir).some((n) => n.startsWith('.tmp-'))) ++midSave;

    const skipped: string[] = [];
    const at = latestCheckpoint(dir, (p, e) => skipped.push(`${p}: ${e.message}`));
    expect(skipped).toEqual([]);
    expect(at).toBeDefined();
    const m = readManifest(at!);
    expect(m).toMatchObject({ layout: 'sharded', worldSize: 4 });
    expect(m.step).toBeGreaterThanOrEqual(newest);
    expect(m.step).toBeGreaterThan(from);
    newest = m.step;
  }
  // The kills must have hit saves, or this test proves little: with a save every step, most do.
  expect(midSave).toBeGreaterThan(0);

  // The survivor loads on one device.
  const trainer = readTrainerJson(latestCheckpoint(dir)!);
  const config = validateConfig(trainer.config);
  using device = openDevice({ device: 'cpu' });
  using p = compile(vitModel(config), { device, inputShapes: { images: [8, config.imageSize, config.imageSize, config.channels], labels: [8] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
  expect(loadCheckpoint(latestCheckpoint(dir)!, p).step).toBe(newest);
}, 600_000);
