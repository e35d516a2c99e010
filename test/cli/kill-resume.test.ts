/**
 * Kill test: `vit22b train --save-every 1 --keep 3 --resume DIR` killed with SIGKILL at random
 * moments, 24 times in a row, each run resuming from what the last one left. After every kill the
 * newest committed checkpoint verifies (every hash), and it never goes backwards; some kills land
 * while a save is in progress (its temporary directory is left behind, and ignored). At the end a
 * run resumes from the last checkpoint and finishes. Runs the built CLI (dist/cli.js), as users do.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { latestCheckpoint } from '../../lib/io/checkpoint';
import { readManifest } from '../../lib/io/checkpoint-manifest';
import { SafetensorsFile } from '../../lib/io/safetensors';
import { DIST_CLI } from '../helpers/paths';
import { mulberry32 } from '../helpers/prng';

const KILLS = 24;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-kill-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// 600 steps: more than the kills leave time for (about 300), so every run is killed before it ends.
const STEPS = 600;
const TRAIN = ['train', '--steps', String(STEPS), '--batch', '8', '--save-every', '1', '--keep', '3', '--progress', 'none', '--seed', '5'];

/** Runs the CLI; kills it after `killAfterMs` (if given); resolves with how it ended. */
function runCli(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    const timer = killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout });
    });
  });
}

test(`${KILLS} SIGKILLs at random moments always leave a loadable latest checkpoint; a last run resumes and finishes`, async () => {
  const dir = path.join(tmp, 'ck');
  const rng = mulberry32(77);
  let lastStep = -1;
  let duringSave = 0;
  for (let i = 0; i < KILLS; ++i) {
    const args = [...TRAIN, ...(lastStep >= 0 ? ['--resume', dir] : ['--checkpoint-dir', dir])];
    // Startup (node, the addon, compiling the step) takes a few hundred ms; kill from there on.
    const r = await runCli(args, 500 + Math.floor(rng() * 900));
    if (r.signal !== 'SIGKILL') throw new Error(`run ${i} ended by itself (code ${r.code}) instead of being killed: ${r.stderr}`);
    if (fs.readdirSync(dir).some((n) => n.startsWith('.tmp-'))) duringSave++;
    const latest = latestCheckpoint(dir);
    if (latest === undefined) {
      // Killed before its first save: only possible while nothing was ever saved.
      expect(lastStep).toBe(-1);
      continue;
    }
    const step = readManifest(latest).step;
    expect(step).toBeGreaterThanOrEqual(lastStep);
    for (const f of ['model.safetensors', 'optimizer.safetensors']) SafetensorsFile.open(path.join(latest, f)).close();
    lastStep = step;
  }
  console.log(`kill test: ${KILLS} kills, ${duringSave} during a save, last committed step ${lastStep}`);
  expect(lastStep).toBeGreaterThan(0);
  expect(duringSave).toBeGreaterThan(0);
  expect(lastStep).toBeLessThan(STEPS);
  const done = await runCli([...TRAIN, '--resume', dir, '--json']);
  expect(done.stderr).toBe('');
  expect(done.code).toBe(0);
  expect(JSON.parse(done.stdout)).toMatchObject({ steps: STEPS });
  expect(readManifest(latestCheckpoint(dir)!).step).toBe(STEPS);
});
