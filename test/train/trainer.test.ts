/**
 * The Trainer on a tiny learnable task (test/helpers/toy-data.ts): the loss falls and the test
 * accuracy rises, metrics.jsonl lines parse, evaluations come when asked and cover the whole test
 * set, two runs with one seed are bitwise equal, gradient accumulation trains, and a NaN batch
 * stops the run with ERR_NON_FINITE naming its step (or is skipped and counted).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { openDevice, type Device } from '../../lib/runtime';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer';
import type { TrainerEvent } from '../../lib/train/events';
import { rejectionOf } from '../helpers/errors';
import { toyModel, toySource } from '../helpers/toy-data';

let device: Device;
let tmp: string;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-trainer-'));
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function options(extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    device,
    model: toyModel,
    train: toySource({ batch: 16, size: 256, seed: 1 }),
    test: toySource({ batch: 24, size: 100, seed: 2, evaluation: true }),
    steps: 60,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', lr: 0.01, warmup: 5 },
    clipNorm: 1,
    seed: 3,
    ...extra,
  };
}

async function collect(t: Trainer): Promise<TrainerEvent[]> {
  const events: TrainerEvent[] = [];
  for await (const e of t.steps()) events.push(e);
  return events;
}

test('the loss falls, the test accuracy rises, and every metrics.jsonl line parses', async () => {
  const out = path.join(tmp, 'run1');
  using t = new Trainer(options({ out, evalEvery: 20 }));
  const events = await collect(t);
  const steps = events.filter((e) => e.type === 'step');
  const evals = events.filter((e) => e.type === 'eval');
  expect(steps.map((e) => e.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  const early = steps.slice(0, 5).reduce((s, e) => s + e.loss, 0) / 5;
  const late = steps.slice(-5).reduce((s, e) => s + e.loss, 0) / 5;
  expect(late).toBeLessThan(early * 0.5);
  expect(evals.map((e) => e.step)).toEqual([20, 40, 60]);
  for (const e of evals) expect(e.examples).toBe(100); // the whole test set, the short last batch included
  expect(evals[2]!.testAccuracy).toBeGreaterThan(0.9);
  expect(evals[2]!.testTop5).toBeGreaterThanOrEqual(evals[2]!.testAccuracy);
  for (const e of steps) {
    expect(Number.isFinite(e.gradNorm) && e.gradNorm > 0).toBe(true);
    expect(e.imagesPerSecond).toBeGreaterThan(0);
  }
  // Warmup then cosine: lr rises for 5 steps to 0.01, then falls.
  expect(steps[4]!.lr).toBeCloseTo(0.01, 12);
  expect(steps[0]!.lr).toBeCloseTo(0.002, 12);
  expect(steps[59]!.lr).toBeLessThan(steps[30]!.lr);
  expect(t.summary).toMatchObject({ steps: 60, skipped: 0, testAccuracy: evals[2]!.testAccuracy });

  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  expect(lines[0]).toMatchObject({ type: 'start', steps: 60, batch: 16, seed: 3, optimizer: { kind: 'adamw' } });
  expect(lines.filter((l) => l.type === 'step')).toHaveLength(60);
  expect(lines.filter((l) => l.type === 'eval')).toHaveLength(3);
  expect(lines.at(-1)).toMatchObject({ type: 'summary', steps: 60, testAccuracy: evals[2]!.testAccuracy });
});

test('the same seed gives bitwise the same run; run() reports through callbacks', async () => {
  const losses: number[][] = [];
  const params: Buffer[] = [];
  for (let i = 0; i < 2; ++i) {
    using t = new Trainer(options({ steps: 12, test: undefined }));
    const seen: number[] = [];
    const summary = await t.run({ onStep: (e) => void seen.push(e.loss) });
    expect(summary.steps).toBe(12);
    losses.push(seen);
    params.push(Buffer.from(t.program.read('hidden/w').buffer));
  }
  expect(losses[1]).toEqual(losses[0]);
  expect(params[1]!.equals(params[0]!)).toBe(true);
  using other = new Trainer(options({ steps: 2, test: undefined, seed: 4 }));
  await other.run();
  expect(Buffer.from(other.program.read('hidden/w').buffer).equals(params[0]!)).toBe(false);
});

test('the next batch is fetched while the current step runs (prefetch order)', async () => {
  const train = toySource({ batch: 16, size: 256, seed: 1 });
  using t = new Trainer(options({ steps: 3, test: undefined, train }));
  const order: string[] = [];
  const fetch = train.batchAt.bind(train);
  train.batchAt = (s: number) => {
    order.push(`fetch ${s}`);
    return fetch(s);
  };
  for await (const e of t.steps()) order.push(`${e.type} ${e.type === 'step' ? e.step : ''}`);
  // Data step s + 1 is requested before step s's event (i.e. before its run was awaited).
  expect(order).toEqual(['fetch 0', 'fetch 1', 'step 1', 'fetch 2', 'step 2', 'step 3']);
});

test('gradient accumulation: 2 micro-batches per step train like one double batch', async () => {
  using t = new Trainer(options({ steps: 30, accumulation: 2, test: undefined, schedule: { kind: 'constant', lr: 0.01 } }));
  expect(t.program.accumulates).toBe(true);
  const events = await collect(t);
  const steps = events.filter((e) => e.type === 'step');
  expect(steps).toHaveLength(30);
  expect(steps[29]!.loss).toBeLessThan(steps[0]!.loss * 0.5);
  expect(t.summary!.steps).toBe(30);
});

describe('a NaN batch', () => {
  test("stops the run with ERR_NON_FINITE naming the step; the parameters are the last good step's", async () => {
    const out = path.join(tmp, 'nan-stop');
    using t = new Trainer(options({ steps: 10, test: undefined, out, train: toySource({ batch: 16, size: 256, seed: 1, poison: [6] }) }));
    const it = t.steps();
    let before: Buffer | undefined;
    const e = await rejectionOf(
      (async () => {
        for await (const ev of it) if (ev.type === 'step') before = Buffer.from(t.program.read('hidden/w').buffer.slice(0));
      })(),
    );
    expect(e).toMatchObject({ code: 'ERR_NON_FINITE', details: { step: 7 } });
    expect((e as Error).message).toMatch(/^training step 7: .*loss is NaN/);
    expect(Buffer.from(t.program.read('hidden/w').buffer).equals(before!)).toBe(true);
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number });
    expect(lines.at(-1)).toMatchObject({ type: 'error', step: 7, code: 'ERR_NON_FINITE' });
  });

  test("with onNonFinite 'skip' is skipped and counted, and training goes on", async () => {
    using t = new Trainer(options({ steps: 10, test: undefined, onNonFinite: 'skip', train: toySource({ batch: 16, size: 256, seed: 1, poison: [2, 5] }) }));
    const events = await collect(t);
    expect(events.filter((e) => e.type === 'skip').map((e) => e.step)).toEqual([3, 6]);
    const steps = events.filter((e) => e.type === 'step');
    expect(steps).toHaveLength(8);
    expect(steps.at(-1)!.skipped).toBe(2);
    expect(t.summary).toMatchObject({ steps: 10, skipped: 2 });
    expect(Array.from(t.program.read('hidden/w') as Float32Array).every(Number.isFinite)).toBe(true);
  });

  test('in a micro-batch drops the whole step (accumulated gradients discarded)', async () => {
    using t = new Trainer(options({ steps: 4, accumulation: 2, test: undefined, onNonFinite: 'skip', train: toySource({ batch: 16, size: 256, seed: 1, poison: [2] }) }));
    const events = await collect(t);
    expect(events.map((e) => `${e.type} ${e.step}`)).toEqual(['step 1', 'skip 2', 'step 3', 'step 4']);
    expect(t.program.accumulatedMicroBatches).toBe(0);
  });
});

test('progress: plain lines when not a TTY, a redrawn bar on one', async () => {
  let text = '';
  const stream = { write: (s: string) => void (text += s), isTTY: false };
  using t = new Trainer(options({ steps: 10, progress: 'auto', progressStream: stream, logEvery: 5 }));
  await t.run();
  const lines = text.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('step '))).toHaveLength(3); // steps 1, 5, 10
  expect(lines.some((l) => /^eval after step 10: test accuracy \d+\.\d%/.test(l))).toBe(true);
  expect(lines.at(-1)).toMatch(/^done: 10 steps in \d+s, \d+ img\/s, test accuracy/);
  expect(lines[0]).toMatch(/^step 1\/10 {2}loss \d\.\d{4} {2}acc \d+\.\d% {2}lr \S+ {2}\d+ img\/s {2}ETA \S+$/);
  let tty = '';
  using t2 = new Trainer(options({ steps: 3, test: undefined, progress: 'auto', progressStream: { write: (s: string) => void (tty += s), isTTY: true, columns: 120 } }));
  await t2.run();
  expect(tty).toMatch(/\r\[=+ *\] step 3\/3 .*ETA/);
});

test('bad options are typed errors', () => {
  expect(() => new Trainer(options({ steps: 0 }))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  expect(() => new Trainer(options({ onNonFinite: 'ignore' as never }))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  expect(() => new Trainer(options({ schedule: { kind: 'step' as never, lr: 1 } }))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', details: expect.objectContaining({ field: 'kind' }) }));
});
