/**
 * lib/io/checkpoint: a save round-trips every parameter and optimizer buffer; the layout is what the
 * docs say; a flipped byte, a truncated file, a missing file, a broken manifest, a wrong shape or
 * dtype or config each give ERR_CHECKPOINT naming the file and the cause, and write nothing into
 * the program; latestCheckpoint skips a corrupt newest checkpoint and uncommitted temporaries;
 * keep prunes the oldest.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { hashFile } from '../../lib/io/checkpoint-manifest';
import { latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../lib/io/checkpoint';
import { SafetensorsFile, writeSafetensors } from '../../lib/io/safetensors';
import { openDevice, type Device } from '../../lib/runtime';
import { Vit22bError } from '../../lib/runtime/errors';
import { Trainer } from '../../lib/train/trainer';
import { thrownBy } from '../helpers/errors';
import { toyModel, toySource } from '../helpers/toy-data';

let device: Device;
let tmp: string;
let seq = 0;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-ckpt-'));
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A trained toy program (a few steps, so optimizer state is not all zeros). */
async function trained(seed = 3, steps = 3): Promise<Trainer> {
  const t = new Trainer({
    device,
    model: toyModel,
    train: toySource({ batch: 8, size: 64, seed: 1 }),
    steps,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'constant', lr: 0.01, warmup: 0 },
    seed,
  });
  await t.run();
  return t;
}

const CONFIG = { toy: true, hidden: 32 };

function bytesOf(t: Trainer, n: string): Buffer {
  const a = t.program.read(n);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function freshDir(): string {
  return path.join(tmp, `c${++seq}`);
}

test('save then load into another program restores every parameter and optimizer buffer; layout and manifest as documented', async () => {
  using a = await trained(3);
  using b = await trained(9);
  const dir = freshDir();
  const at = saveCheckpoint(dir, { program: a.program, step: 3, config: CONFIG, trainerState: { seed: 3 } });
  expect(at).toBe(path.join(dir, 'step-3'));
  expect(fs.readdirSync(dir)).toEqual(['step-3']);
  expect(fs.readdirSync(at).sort()).toEqual(['manifest.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(at, 'manifest.json'), 'utf8'));
  expect(manifest).toMatchObject({ format: 'vit22b-checkpoint', version: 1, step: 3, worldSize: 1 });
  expect(manifest.files.map((f: { name: string }) => f.name)).toEqual(['model.safetensors', 'optimizer.safetensors', 'trainer.json']);
  using model = SafetensorsFile.open(path.join(at, 'model.safetensors'));
  expect(model.names().sort()).toEqual(a.program.parameterNames().sort());
  for (const n of model.names()) expect(model.entry(n).dtype).toBe('F32');
  using opt = SafetensorsFile.open(path.join(at, 'optimizer.safetensors'));
  expect(opt.names().length).toBeGreaterThan(0);
  expect(opt.names().some((n) => n.startsWith('grad/'))).toBe(false);

  const loaded = loadCheckpoint(at, b.program, { config: { hidden: 32, toy: true } });
  expect(loaded.step).toBe(3);
  expect(loaded.trainer.trainerState).toEqual({ seed: 3 });
  for (const n of [...model.names(), ...opt.names()]) expect(bytesOf(b, n).equals(bytesOf(a, n))).toBe(true);
});

describe('a damaged or mismatched checkpoint: ERR_CHECKPOINT naming the file and the cause, nothing written', () => {
  type Damage = [string, string, string, (at: string, t: Trainer) => void];
  const damages: Damage[] = [
    ['a flipped byte in the weights', 'model.safetensors', 'hash-mismatch', (at) => flip(path.join(at, 'model.safetensors'), 200)],
    ['a flipped byte in the optimizer state', 'optimizer.safetensors', 'hash-mismatch', (at) => flip(path.join(at, 'optimizer.safetensors'), -3)],
    ['a truncated weights file', 'model.safetensors', 'file-truncated', (at) => truncate(path.join(at, 'model.safetensors'), 100)],
    ['a file longer than recorded', 'optimizer.safetensors', 'file-size-mismatch', (at) => fs.appendFileSync(path.join(at, 'optimizer.safetensors'), 'x')],
    ['a missing file', 'trainer.json', 'file-missing', (at) => fs.rmSync(path.join(at, 'trainer.json'))],
    ['no manifest', 'manifest.json', 'manifest-missing', (at) => fs.rmSync(path.join(at, 'manifest.json'))],
    ['a truncated manifest', 'manifest.json', 'manifest-invalid', (at) => truncate(path.join(at, 'manifest.json'), 20)],
    ['another model config', 'trainer.json', 'config-mismatch', () => undefined],
  ];
  test.each(damages)('%s -> %s: %s', async (_what, file, rule, damage) => {
    using src = await trained(3);
    using dst = await trained(9);
    const before = new Map(dst.program.bufferNames().map((n) => [n, bytesOf(dst, n)]));
    const at = saveCheckpoint(freshDir(), { program: src.program, step: 1, config: CONFIG });
    damage(at, src);
    const config = rule === 'config-mismatch' ? { toy: true, hidden: 64 } : CONFIG;
    const e = thrownBy(() => loadCheckpoint(at, dst.program, { config })) as Vit22bError;
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e.code).toBe('ERR_CHECKPOINT');
    expect(e.details).toMatchObject({ rule, file: path.join(at, file) });
    expect(e.message).toContain(path.join(at, file));
    for (const [n, b] of before) expect(bytesOf(dst, n).equals(b)).toBe(true);
  });

  test('a checkpoint of another model (shapes) or with a missing tensor, even with a valid manifest', async () => {
    using src = await trained(3);
    const at = saveCheckpoint(freshDir(), { program: src.program, step: 1 });
    // Rewrite the weights with one tensor reshaped, and re-seal the manifest as a writer would.
    const file = path.join(at, 'model.safetensors');
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const n of src.program.parameterNames()) tensors[n] = { dtype: 'F32', shape: [...src.program.bufferShape(n)], data: src.program.read(n) as Float32Array };
    const first = src.program.parameterNames()[0]!;
    const n0 = tensors[first]!.data.length;
    tensors[first] = { dtype: 'F32', shape: [n0], data: tensors[first]!.data };
    writeSafetensors(file, tensors);
    reseal(at);
    expect((thrownBy(() => loadCheckpoint(at, src.program)) as Vit22bError).details).toMatchObject({ rule: 'shape-mismatch', file, tensor: first });
    delete tensors[first];
    writeSafetensors(file, tensors);
    reseal(at);
    expect((thrownBy(() => loadCheckpoint(at, src.program)) as Vit22bError).details).toMatchObject({ rule: 'tensor-missing', file, tensor: first });
  });
});

test('latestCheckpoint: the newest that verifies; temporaries and corrupt ones are passed over; keep prunes', async () => {
  using t = await trained(3);
  const dir = freshDir();
  for (const step of [1, 2, 3, 4]) saveCheckpoint(dir, { program: t.program, step, keep: 3 });
  expect(listCheckpoints(dir).map((c) => c.step)).toEqual([4, 3, 2]);
  expect(latestCheckpoint(dir)).toBe(path.join(dir, 'step-4'));
  // An interrupted save: a temporary directory with everything but the rename.
  fs.cpSync(path.join(dir, 'step-4'), path.join(dir, '.tmp-step-5-999999-abcd'), { recursive: true });
  // A step directory with no manifest is not committed.
  fs.mkdirSync(path.join(dir, 'step-6'));
  flip(path.join(dir, 'step-4', 'model.safetensors'), 50);
  expect(latestCheckpoint(dir)).toBe(path.join(dir, 'step-3'));
  expect(latestCheckpoint(path.join(dir, 'nothing-here'))).toBeUndefined();
  // Pruning also clears other processes' temporaries.
  saveCheckpoint(dir, { program: t.program, step: 7, keep: 1 });
  expect(fs.readdirSync(dir).sort()).toEqual(['step-6', 'step-7']);
});

function flip(file: string, at: number): void {
  const b = fs.readFileSync(file);
  const i = at < 0 ? b.length + at : at;
  b[i]! ^= 0x01;
  fs.writeFileSync(file, b);
}

function truncate(file: string, bytes: number): void {
  fs.truncateSync(file, fs.statSync(file).size - bytes);
}

/** Rewrites the manifest's sizes and hashes for the files as they are now. */
function reseal(at: string): void {
  const m = JSON.parse(fs.readFileSync(path.join(at, 'manifest.json'), 'utf8'));
  for (const f of m.files) Object.assign(f, hashFile(path.join(at, f.name)));
  fs.writeFileSync(path.join(at, 'manifest.json'), JSON.stringify(m));
}
