/**
 * Issue 20, class 3, with two real processes: while `vit22b train --save-every 1 --keep 1` writes
 * into a checkpoint directory, a second run into the same directory is refused (ERR_CHECKPOINT
 * locked) before it trains, and the first run's checkpoints and in-flight saves are untouched. Once
 * the first is killed (SIGKILL: its lock and perhaps a temporary directory stay behind), a new run
 * takes the stale lock over and its first save clears the dead run's temporaries. Runs the built CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cli-run';
import { DIST_CLI } from '../helpers/paths';

let tmp: string;
let child: ChildProcess | undefined;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-concurrent-'));
});
afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Polls `cond` every 50 ms; rejects past `deadlineMs` (a deadline, not a timing assertion). */
async function waitFor(cond: () => boolean, what: string, deadlineMs = 90_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > deadlineMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const committed = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^step-\d+$/.test(n)) : []);

test('a second writer is refused while the first lives; after a crash the next run takes over and cleans up', async () => {
  const dir = path.join(tmp, 'ckpt');
  child = spawn(process.execPath, [DIST_CLI, 'train', '--steps', '100000', '--batch', '8', '--save-every', '1', '--keep', '1', '--progress', 'none', '--checkpoint-dir', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child!.on('exit', () => resolve()));
  await waitFor(() => committed(dir).length > 0, 'the first run to commit a checkpoint');
  const lock = JSON.parse(fs.readFileSync(path.join(dir, '.lock'), 'utf8')) as { pid: number; hostname: string };
  expect(lock).toMatchObject({ pid: child.pid, hostname: os.hostname() });

  const second = await cli(['train', '--steps', '2', '--batch', '8', '--save-every', '1', '--keep', '1', '--progress', 'none', '--json', '--checkpoint-dir', dir]);
  expect(second.code).toBe(1);
  const body = JSON.parse(second.out) as { error: Record<string, unknown> };
  expect(body.error).toMatchObject({ code: 'ERR_CHECKPOINT', rule: 'locked', file: path.join(dir, '.lock') });
  expect(String(body.error.received)).toContain(`pid ${child.pid} on ${os.hostname()}`);
  // The first run goes on saving: its step numbers keep rising.
  const before = Math.max(...committed(dir).map((n) => Number(n.slice(5))));
  await waitFor(() => committed(dir).some((n) => Number(n.slice(5)) > before), 'the first run to save again');

  child.kill('SIGKILL');
  await exited;
  // What a crash mid-save leaves: a temporary directory of the dead pid (made here for certainty).
  const orphan = path.join(dir, `.tmp-step-999-${child.pid}-dead`);
  fs.mkdirSync(orphan, { recursive: true });
  const third = await cli(['train', '--steps', '2', '--batch', '8', '--save-every', '1', '--progress', 'none', '--checkpoint-dir', dir]);
  expect(third.code).toBe(0);
  expect(fs.existsSync(orphan)).toBe(false);
  expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
});
