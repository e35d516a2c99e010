/**
 * Issue 20, classes 2, 3 and 6 for checkpoints: a manifest must list every file loading reads; one
 * writer owns a checkpoint directory (a lock with stale-lock detection, a typed refusal for a second
 * writer); pruning touches only leftovers of saves that can no longer finish; a fallback from a
 * corrupt newest checkpoint is said (stderr and metrics.jsonl); a skipped last step still evaluates.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { hashFile } from '../../lib/io/checkpoint-manifest';
import { loadCheckpoint, saveCheckpoint, pruneCheckpoints } from '../../lib/io/checkpoint';
import { LOCK_FILE, lockCheckpointDir, processStart } from '../../lib/io/checkpoint-lock';
import { openDevice, type Device } from '../../lib/runtime';
import { Vit22bError } from '../../lib/runtime/errors';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer';
import { thrownBy, rejectionOf } from '../helpers/errors';
import { toyModel, toySource } from '../helpers/toy-data';

let device: Device;
let tmp: string;
let seq = 0;
let sleeper: ChildProcess | undefined;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-owner-'));
});
afterAll(() => {
  device.dispose();
  if (sleeper?.pid !== undefined) process.kill(sleeper.pid);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freshDir(): string {
  return path.join(tmp, `c${++seq}`);
}

function options(extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    device,
    model: toyModel,
    train: toySource({ batch: 8, size: 64, seed: 1 }),
    steps: 2,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'constant', lr: 0.01, warmup: 0 },
    seed: 3,
    progressStream: { write: () => true } as unknown as NodeJS.WritableStream,
    ...extra,
  };
}

/** A pid that certainly is not running: a child that has already exited. */
function deadPid(): number {
  const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(out.toString());
}

/** A live process of this host that is not us (killed in afterAll). */
function livePid(): number {
  sleeper ??= spawn('sleep', ['600'], { stdio: 'ignore' });
  return sleeper.pid!;
}

function writeLock(dir: string, pid: number, hostname = os.hostname()): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, hostname, startedAt: '2026-01-01T00:00:00.000Z', token: 'x' }));
}

describe('the manifest lists every file loading reads', () => {
  test.each([
    ['no files', [] as string[]],
    ['model.safetensors only', ['model.safetensors']],
    ['no trainer.json', ['model.safetensors', 'optimizer.safetensors']],
  ])('a manifest with %s: ERR_CHECKPOINT manifest-incomplete, nothing written', async (_what, keepNames) => {
    using t = new Trainer(options());
    await t.run();
    const dir = freshDir();
    const at = saveCheckpoint(dir, { program: t.program, step: 2 });
    const m = JSON.parse(fs.readFileSync(path.join(at, 'manifest.json'), 'utf8'));
    m.files = m.files.filter((f: { name: string }) => keepNames.includes(f.name));
    fs.writeFileSync(path.join(at, 'manifest.json'), JSON.stringify(m));
    using fresh = new Trainer(options({ seed: 9 }));
    const before = Buffer.from(fresh.program.read('hidden/w').buffer).toString('hex');
    const e = thrownBy(() => loadCheckpoint(at, fresh.program)) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_CHECKPOINT', details: { file: path.join(at, 'manifest.json'), rule: 'manifest-incomplete' } });
    expect(e.expected).toBe('model.safetensors, optimizer.safetensors, trainer.json');
    expect(Buffer.from(fresh.program.read('hidden/w').buffer).toString('hex')).toBe(before);
  });

  test('a manifest listing one file twice, or a negative size, is invalid', () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a'), 'x');
    const f = { name: 'a', ...hashFile(path.join(dir, 'a')) };
    for (const files of [[f, f], [{ ...f, bytes: -1 }]]) {
      fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'vit22b-checkpoint', version: 1, step: 1, worldSize: 1, files }));
      using t = new Trainer(options());
      expect(thrownBy(() => loadCheckpoint(dir, t.program))).toMatchObject({ code: 'ERR_CHECKPOINT', details: { rule: 'manifest-invalid' } });
    }
  });
});

describe('one writer per checkpoint directory', () => {
  test('a lock held by a live process on this host: a typed refusal naming the owner, for saves and for a trainer', async () => {
    const dir = freshDir();
    const pid = livePid();
    writeLock(dir, pid);
    using t = new Trainer(options());
    const e = thrownBy(() => saveCheckpoint(dir, { program: t.program, step: 1 })) as Vit22bError;
    expect(e).toMatchObject({ code: 'ERR_CHECKPOINT', expected: 'no other run writing to this checkpoint directory', details: { file: path.join(dir, LOCK_FILE), rule: 'locked' } });
    expect(e.received).toContain(`pid ${pid} on ${os.hostname()}`);
    expect(thrownBy(() => pruneCheckpoints(dir, 1))).toMatchObject({ code: 'ERR_CHECKPOINT', details: { rule: 'locked' } });
    // The trainer is refused before its first step, not at its first save.
    using u = new Trainer(options({ checkpointDir: dir, saveEvery: 1 }));
    const events: string[] = [];
    const r = (await rejectionOf(
      (async () => {
        for await (const ev of u.steps()) events.push(ev.type);
      })(),
    )) as Vit22bError;
    expect(r).toMatchObject({ code: 'ERR_CHECKPOINT', details: { rule: 'locked' } });
    expect(events).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  test('a lock from another host is not taken over (its pid cannot be checked from here)', () => {
    const dir = freshDir();
    writeLock(dir, deadPid(), 'some-other-host');
    using t = new Trainer(options());
    expect(thrownBy(() => saveCheckpoint(dir, { program: t.program, step: 1 }))).toMatchObject({ code: 'ERR_CHECKPOINT', details: { rule: 'locked' } });
  });

  test('a lock whose pid is alive but started at another time (a reused pid) is stale', () => {
    const dir = freshDir();
    const pid = livePid();
    expect(processStart(pid)).toMatch(/^\d+$/);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, hostname: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'x', processStart: '1' }));
    using t = new Trainer(options());
    saveCheckpoint(dir, { program: t.program, step: 1 });
    expect(fs.readdirSync(dir).sort()).toEqual(['step-1']);
  });

  test('a stale lock (its pid is gone) is taken over, and released after the save', () => {
    const dir = freshDir();
    writeLock(dir, deadPid());
    using t = new Trainer(options());
    saveCheckpoint(dir, { program: t.program, step: 1 });
    expect(fs.readdirSync(dir).sort()).toEqual(['step-1']);
  });

  test('a trainer holds the lock for its whole run and releases it at the end; the lock is re-entrant in one process', async () => {
    const dir = freshDir();
    const seen: boolean[] = [];
    using t = new Trainer(options({ checkpointDir: dir, saveEvery: 1, steps: 3 }));
    for await (const ev of t.steps()) if (ev.type === 'step') seen.push(fs.existsSync(path.join(dir, LOCK_FILE)));
    expect(seen).toEqual([true, true, true]);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const release = lockCheckpointDir(dir);
    const again = lockCheckpointDir(dir);
    again();
    again(); // twice: counted once
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  test("pruning removes crashed saves' temporaries (dead pid), not a live process's in-flight one; with or without keep", () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    const dead = path.join(dir, `.tmp-step-4-${deadPid()}-abcd`);
    const live = path.join(dir, `.tmp-step-4-${livePid()}-abcd`);
    for (const p of [dead, live]) fs.mkdirSync(p);
    using t = new Trainer(options());
    saveCheckpoint(dir, { program: t.program, step: 1 });
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    fs.mkdirSync(dead);
    saveCheckpoint(dir, { program: t.program, step: 2, keep: 1 });
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(live), 'step-2']);
  });
});

test('a resume that passes over a corrupt newest checkpoint says so on stderr and in metrics.jsonl', async () => {
  const dir = freshDir();
  {
    using t = new Trainer(options({ checkpointDir: dir, saveEvery: 1, steps: 2 }));
    await t.run();
  }
  const model = path.join(dir, 'step-2', 'model.safetensors');
  const b = fs.readFileSync(model);
  b[b.length - 1]! ^= 1;
  fs.writeFileSync(model, b);
  let err = '';
  const out = path.join(tmp, `run${++seq}`);
  using r = new Trainer(options({ resumeFrom: dir, out, progressStream: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream }));
  await r.run();
  expect(err).toContain(`passing over checkpoint ${path.join(dir, 'step-2')}: ERR_CHECKPOINT hash-mismatch`);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.find((l) => l.type === 'checkpoint-skipped')).toMatchObject({ path: path.join(dir, 'step-2'), code: 'ERR_CHECKPOINT', rule: 'hash-mismatch' });
  expect(lines.find((l) => l.type === 'resume')).toMatchObject({ from: path.join(dir, 'step-1'), step: 1 });
});

test('a skipped last step (onNonFinite skip) still ends with the evaluation', async () => {
  using t = new Trainer(options({ steps: 4, onNonFinite: 'skip', train: toySource({ batch: 8, size: 64, seed: 1, poison: [3] }), test: toySource({ batch: 8, size: 20, seed: 2, evaluation: true }) }));
  const events: string[] = [];
  for await (const ev of t.steps()) events.push(`${ev.type} ${ev.step}`);
  expect(events).toEqual(['step 1', 'step 2', 'step 3', 'skip 4', 'eval 4']);
  expect(t.summary!.testAccuracy).toEqual(expect.any(Number));
});
