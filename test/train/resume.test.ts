/**
 * Exact resume: a 20-step run, and a run interrupted after step 10 (its checkpoint saved) then
 * resumed by a fresh Trainer for steps 11..20, end with bitwise identical parameters and optimizer
 * state, in fp32 and bf16-mixed, with AdamW and with Adafactor plus gradient accumulation. And a
 * resume that would not continue the same run (another seed, another model config) is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { listCheckpoints } from '../../lib/io/checkpoint';
import { openDevice, type Device } from '../../lib/runtime';
import { Vit22bError } from '../../lib/runtime/errors';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer';
import { rejectionOf } from '../helpers/errors';
import { toyModel, toySource } from '../helpers/toy-data';

let device: Device;
let tmp: string;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-resume-'));
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function options(extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    device,
    model: toyModel,
    train: toySource({ batch: 16, size: 96, seed: 1 }),
    steps: 20,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', lr: 0.01, warmup: 3 },
    clipNorm: 1,
    seed: 3,
    modelConfig: { toy: true, hidden: 32 },
    ...extra,
  };
}

function snapshot(t: Trainer): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const n of t.program.bufferNames()) {
    if (n.startsWith('grad/')) continue;
    const a = t.program.read(n);
    out.set(n, new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
  }
  return out;
}

const variants: [string, Partial<TrainerOptions>][] = [
  ['fp32, adamw', {}],
  ['bf16-mixed, adamw', { precision: 'bf16-mixed' }],
  ['bf16-mixed, adafactor, accumulation 2', { precision: 'bf16-mixed', optimizer: { kind: 'adafactor', weightDecay: 0.03 }, accumulation: 2, train: toySource({ batch: 8, size: 96, seed: 1 }) }],
];

test.each(variants)('%s: 20 steps == 10 steps + save + resume for 10, bitwise', async (name, extra) => {
  const dir = path.join(tmp, name.replace(/[^a-z0-9]+/gi, '-'));
  using whole = new Trainer(options(extra));
  await whole.run();
  const expected = snapshot(whole);

  {
    using first = new Trainer(options({ ...extra, checkpointDir: dir, saveEvery: 5, keep: 2 }));
    // Interrupted after step 10: the generator is abandoned there, as a killed run would stop.
    for await (const e of first.steps()) if (e.type === 'step' && e.step === 10) break;
  }
  expect(listCheckpoints(dir).map((c) => c.step)).toEqual([10, 5]);

  using second = new Trainer(options({ ...extra, resumeFrom: dir }));
  const steps: number[] = [];
  await second.run({ onStep: (e) => void steps.push(e.step) });
  expect(steps).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  const got = snapshot(second);
  expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [n, bytes] of expected) {
    if (!Buffer.from(got.get(n)!).equals(Buffer.from(bytes))) throw new Error(`${name}: buffer ${n} differs after resume`);
  }
});

test('a resume that would not continue the same run is refused with ERR_CHECKPOINT naming the field', async () => {
  const dir = path.join(tmp, 'mismatch');
  {
    using t = new Trainer(options({ steps: 2, checkpointDir: dir, saveEvery: 1 }));
    await t.run();
  }
  using otherSeed = new Trainer(options({ seed: 4, resumeFrom: dir }));
  const e = (await rejectionOf(otherSeed.run())) as Vit22bError;
  expect(e.code).toBe('ERR_CHECKPOINT');
  expect(e.details).toMatchObject({ rule: 'trainer-mismatch', field: 'seed', file: path.join(dir, 'step-2', 'trainer.json') });

  using otherConfig = new Trainer(options({ modelConfig: { toy: true, hidden: 64 }, resumeFrom: dir }));
  const c = (await rejectionOf(otherConfig.run())) as Vit22bError;
  expect(c.details).toMatchObject({ rule: 'config-mismatch' });

  using nothing = new Trainer(options({ resumeFrom: path.join(tmp, 'empty') }));
  expect(((await rejectionOf(nothing.run())) as Vit22bError).details.rule).toBe('none-found');
});
