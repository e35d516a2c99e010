/**
 * Sharded checkpoints: each device writes what it holds (a box written once however many devices
 * hold it), and the checkpoint loads on other meshes, bit for bit: 2x2 with ZeRO-3 -> 1x4 and -> one
 * device, one device -> 2x2 with ZeRO-3. Tampered or mismatched checkpoints are typed errors.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { compile, type CompileOptions } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import { loadShardedCheckpoint, readShardIndex, saveShardedCheckpoint } from '../../lib/io/sharded-checkpoint';
import { getPreset, type ModelConfig } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { thrownBy } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';

let device: Device;
let tmp: string;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-sharded-'));
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const config = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 1, heads: 4, mlpDim: 64, numClasses: 5 });

function program(extra: Partial<CompileOptions>, c: ModelConfig = config): Program {
  return compile(vitModel(c), { device, inputShapes: { images: [4, 8, 8, 3], labels: [4] }, train: { loss: 'loss', optimizer: { kind: 'adamw' } }, seed: 7, ...extra });
}

async function trained(extra: Partial<CompileOptions>): Promise<Program> {
  const p = program(extra);
  const rng = mulberry32(2);
  for (let step = 1; step <= 2; ++step) await p.run({ images: normals(rng, 4 * 8 * 8 * 3), labels: Int32Array.from([0, 1, 2, 3]) }, { lr: 1e-2, step });
  return p;
}

function bytesOf(p: Program, n: string): Buffer {
  const a = p.read(n);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameBuffers(a: Program, b: Program): void {
  const names = a.bufferNames().filter((n) => !n.startsWith('grad/') && !n.startsWith('const/'));
  expect(names.length).toBeGreaterThan(10);
  for (const n of names) if (!bytesOf(a, n).equals(bytesOf(b, n))) throw new Error(`${n} differs after the sharded round trip`);
}

test('2x2 with ZeRO-3 saves per-device boxes once each, and loads on 1x4 and on one device bit for bit', async () => {
  using a = await trained({ mesh: { data: 2, model: 2 }, zero: 3 });
  const dir = path.join(tmp, 'from-2x2');
  const index = saveShardedCheckpoint(dir, a);
  expect(readShardIndex(dir)).toEqual(index);
  expect(index.mesh).toEqual({ data: 2, model: 2 });
  // in/w [32, 160]: rows over data, columns over model in 4 segments -> 2 x 2 x 4 boxes, one each.
  expect(index.tensors['block0/in/w']!.chunks).toHaveLength(16);
  // A weight every device holds whole is written once.
  expect(index.tensors['head/b']!.chunks).toHaveLength(1);
  expect(fs.readdirSync(dir).sort()).toEqual(['index.json', 'rank-0.safetensors', 'rank-1.safetensors', 'rank-2.safetensors', 'rank-3.safetensors']);
  using b = program({ mesh: { data: 1, model: 4 } });
  loadShardedCheckpoint(dir, b);
  expectSameBuffers(a, b);
  using c = program({});
  loadShardedCheckpoint(dir, c);
  expectSameBuffers(a, c);
});

test('one device -> 2x2 with ZeRO-3', async () => {
  using a = await trained({});
  const dir = path.join(tmp, 'from-one');
  saveShardedCheckpoint(dir, a);
  using b = program({ mesh: { data: 2, model: 2 }, zero: 3 });
  loadShardedCheckpoint(dir, b);
  expectSameBuffers(a, b);
});

test('a tampered, mismatched or existing checkpoint is a typed error', async () => {
  using a = await trained({ mesh: { data: 1, model: 2 } });
  const dir = path.join(tmp, 'tamper');
  saveShardedCheckpoint(dir, a);
  expect(thrownBy(() => saveShardedCheckpoint(dir, a))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'exists' }) });
  using wider = program({}, { ...config, width: 64, heads: 4 });
  expect(thrownBy(() => loadShardedCheckpoint(dir, wider))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'tensor-mismatch' }) });
  const indexFile = path.join(dir, 'index.json');
  const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  index.tensors['block0/in/w'].chunks.pop();
  fs.writeFileSync(indexFile, JSON.stringify(index));
  using b = program({});
  expect(thrownBy(() => loadShardedCheckpoint(dir, b))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'incomplete' }) });
  index.tensors['block0/in/w'].chunks[0].offsets = [0, 1000];
  fs.writeFileSync(indexFile, JSON.stringify(index));
  expect(thrownBy(() => loadShardedCheckpoint(dir, b))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'index-invalid' }) });
  expect(thrownBy(() => loadShardedCheckpoint(path.join(tmp, 'nowhere'), b))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'index-unreadable' }) });
});

test('an index.json that is a FIFO is refused, not waited on', async () => {
  using a = await trained({});
  const dir = path.join(tmp, 'fifo');
  saveShardedCheckpoint(dir, a);
  fs.rmSync(path.join(dir, 'index.json'));
  execFileSync('mkfifo', [path.join(dir, 'index.json')]);
  using b = program({});
  expect(thrownBy(() => loadShardedCheckpoint(dir, b))).toMatchObject({ code: 'ERR_CHECKPOINT', details: expect.objectContaining({ rule: 'not-a-regular-file' }) });
});
