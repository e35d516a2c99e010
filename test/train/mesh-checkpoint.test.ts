/**
 * Checkpoints hold global tensors whatever the mesh: a run on a 2x2 mesh interrupted after step 4
 * and resumed on one device for steps 5..8 (and the reverse) ends where an unsharded 8-step run
 * ends, up to summation order (fp32; every parameter and optimizer state within 1e-4 of its scale).
 * Also: the trainer's summary reports the mesh, and a mesh that does not fit the model is refused
 * before anything is built.
 *
 * A mesh trainer's checkpoints are sharded (every device writes its own slices, one manifest hashes
 * every rank file) and reshard on load: a 2x2 ZeRO-3 checkpoint loads on 1x1, 1x4 and 4x1 with every
 * global tensor bit for bit the saver's, and training continues from it. On the same mesh, a resume
 * is exact: 4 steps, save, resume to 8 == 8 uninterrupted steps, bit for bit. The checkpoint also
 * exports (vit22b export reads the rank files) and initialises a fine-tune (--init).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import { latestCheckpoint, loadCheckpoint } from '../../lib/io/checkpoint';
import { readManifest } from '../../lib/io/checkpoint-manifest';
import { openCheckpointWeights } from '../../lib/io/checkpoint-weights';
import { readShardIndex } from '../../lib/io/sharded-checkpoint';
import { SafetensorsFile } from '../../lib/io/safetensors';
import { getPreset } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import type { MeshShape } from '../../lib/runtime/mesh';
import { loadPretrained } from '../../lib/train/pretrained';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer';
import { vitModel } from '../../lib/train/vit-model';
import { cli } from '../helpers/cli-run';
import { toySource } from '../helpers/toy-data';
import { thrownBy } from '../helpers/errors';

let device: Device;
let tmp: string;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-mesh-ckpt-'));
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const config = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 1, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 4 });

function options(extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    device,
    model: vitModel(config),
    train: toySource({ batch: 8, size: 64, seed: 1 }),
    steps: 8,
    // eps 1e-3: see test/graph/mesh-training.test.ts (the key biases' zero gradient).
    optimizer: { kind: 'adamw', weightDecay: 1e-4, eps: 1e-3 },
    schedule: { kind: 'cosine', lr: 0.01, warmup: 2 },
    clipNorm: 1,
    seed: 3,
    modelConfig: config,
    ...extra,
  };
}

function snapshot(t: Trainer): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const n of t.program.bufferNames()) if (!n.startsWith('grad/') && t.program.bufferDType(n) === 'f32') out.set(n, t.program.read(n) as Float32Array);
  return out;
}

function expectClose(got: Map<string, Float32Array>, want: Map<string, Float32Array>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [n, w] of want) {
    const g = got.get(n)!;
    let scale = 1e-3;
    let worst = 0;
    w.forEach((x, i) => {
      scale = Math.max(scale, Math.abs(x));
      worst = Math.max(worst, Math.abs(x - g[i]!));
    });
    if (!(worst <= 1e-4 * scale)) throw new Error(`${n}: max diff ${worst} > ${1e-4 * scale}`);
  }
}

test.each([
  ['2x2 then one device', { data: 2, model: 2 }, undefined],
  ['one device then 2x2', undefined, { data: 2, model: 2 }],
])('%s: save after step 4, resume to 8 == 8 unsharded steps', async (name, first, second) => {
  using whole = new Trainer(options());
  const summary = await whole.run();
  expect(summary.mesh).toEqual({ data: 1, model: 1 });
  const dir = path.join(tmp, name.replace(/[^a-z0-9]+/gi, '-'));
  {
    using t = new Trainer(options({ ...(first ? { mesh: first } : {}), checkpointDir: dir, saveEvery: 4 }));
    for await (const e of t.steps()) if (e.type === 'step' && e.step === 4) break;
  }
  using resumed = new Trainer(options({ ...(second ? { mesh: second } : {}), resumeFrom: dir }));
  const s = await resumed.run();
  expect(s.mesh).toEqual(second ?? { data: 1, model: 1 });
  expectClose(snapshot(resumed), snapshot(whole));
});

test('a mesh that does not fit the model or the batch is refused before anything is built', () => {
  expect(thrownBy(() => new Trainer(options({ mesh: { data: 1, model: 3 } })))).toMatchObject({ code: 'ERR_INVALID_CONFIG', message: 'heads 4 is not divisible by model=3' });
  expect(thrownBy(() => new Trainer(options({ mesh: { data: 3, model: 1 } })))).toMatchObject({ code: 'ERR_INVALID_CONFIG', message: 'the global batch 8 is not divisible by data=3' });
  expect(thrownBy(() => new Trainer(options({ mesh: { data: 16, model: 1 } })))).toMatchObject({ code: 'ERR_INVALID_CONFIG', message: "the global batch 8 is smaller than the mesh's data=16" });
});

describe('sharded checkpoints of a 2x2 ZeRO-3 trainer', () => {
  const saved = (p: Program) => p.bufferNames().filter((n) => ['param', 'state'].includes(p.bufferKind(n)));

  /** SHA-256 of each saved buffer's global bytes. */
  function hashes(p: Program): Map<string, string> {
    return new Map(
      saved(p).map((n) => {
        const a = p.read(n);
        return [n, createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex')];
      }),
    );
  }

  /** A program of the trainer's step on `mesh`, for loading into. */
  function programOn(mesh: MeshShape | undefined): Program {
    return compile(vitModel(config), {
      device,
      ...(mesh ? { mesh } : {}),
      inputShapes: { images: [8, 8, 8, 1], labels: [8] },
      train: { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 1e-4, eps: 1e-3 }, clipNorm: 1 },
      seed: 99,
    });
  }

  let dir: string;
  let saverHashes: Map<string, string>;
  beforeAll(async () => {
    dir = path.join(tmp, 'zero3');
    using t = new Trainer(options({ mesh: { data: 2, model: 2 }, zero: 3, checkpointDir: dir, saveEvery: 4 }));
    for await (const e of t.steps()) if (e.type === 'step' && e.step === 4) break;
    saverHashes = hashes(t.program);
  });

  test('a 2x2 ZeRO-3 trainer writes the sharded layout: rank files hashed by the manifest, no whole-tensor files', () => {
    const at = latestCheckpoint(dir)!;
    expect(path.basename(at)).toBe('step-4');
    const m = readManifest(at);
    expect(m).toMatchObject({ layout: 'sharded', worldSize: 4, mesh: { data: 2, model: 2 } });
    const names = m.files.map((f) => f.name).sort();
    expect(names).toEqual(['index.json', 'rank-0.safetensors', 'rank-1.safetensors', 'rank-2.safetensors', 'rank-3.safetensors', 'trainer.json']);
    expect(fs.readdirSync(at).sort()).toEqual([...names, 'manifest.json'].sort());
    // ZeRO-3 splits the big weights four ways (data x model): every chunk of a block's in/w is a quarter.
    const index = readShardIndex(at);
    const inW = Object.keys(index.tensors).find((n) => /in\/w$/.test(n))!;
    const whole = index.tensors[inW]!.shape.reduce((a, b) => a * b, 1);
    const chunked = index.tensors[inW]!.chunks.map((c) => c.sizes.reduce((a, b) => a * b, 1));
    expect(chunked.reduce((a, b) => a + b, 0)).toBe(whole);
    for (const v of chunked) expect(v).toBeLessThanOrEqual(whole / 4);
  });

  test.each([
    ['1x1', undefined],
    ['1x4', { data: 1, model: 4 }],
    ['4x1', { data: 4, model: 1 }],
  ])('the 2x2 ZeRO-3 checkpoint loads on %s: every global tensor bit for bit', (_name, mesh) => {
    using p = programOn(mesh);
    expect(hashes(p)).not.toEqual(saverHashes); // another seed: the load must change every buffer
    loadCheckpoint(latestCheckpoint(dir)!, p);
    expect(hashes(p)).toEqual(saverHashes);
  });

  test('resuming on the same mesh is exact: 4 + 4 steps == 8 steps, bit for bit', async () => {
    using whole = new Trainer(options({ mesh: { data: 2, model: 2 }, zero: 3 }));
    await whole.run();
    using resumed = new Trainer(options({ mesh: { data: 2, model: 2 }, zero: 3, resumeFrom: dir }));
    const s = await resumed.run();
    expect(s.steps).toBe(8);
    expect(hashes(resumed.program)).toEqual(hashes(whole.program));
  });

  test('training continues on another mesh (4x1) from the sharded checkpoint, and the loss stays finite', async () => {
    using resumed = new Trainer(options({ mesh: { data: 4, model: 1 }, resumeFrom: dir }));
    const s = await resumed.run();
    expect(s.steps).toBe(8);
    expect(Number.isFinite(s.finalLoss)).toBe(true);
  });

  test('export and --init read the rank files as global tensors', async () => {
    const at = latestCheckpoint(dir)!;
    using w = openCheckpointWeights(at);
    using p = programOn(undefined);
    loadCheckpoint(at, p);
    const params = saved(p).filter((n) => p.bufferKind(n) === 'param');
    expect([...w.names()].sort()).toEqual([...params].sort());
    for (const n of params) expect(Buffer.from(w.readFloat(n).buffer).equals(Buffer.from((p.read(n) as Float32Array).buffer))).toBe(true);

    const out = path.join(tmp, 'exported.safetensors');
    const r = await cli(['export', '--checkpoint', dir, '--output', out, '--format', 'native']);
    expect(r.code).toBe(0);
    using f = SafetensorsFile.open(out);
    for (const n of params) expect(Buffer.from(f.read(n)).equals(Buffer.from((p.read(n) as Float32Array).buffer))).toBe(true);

    // --init DIR: the fine-tune's starting weights are the checkpoint's.
    const init = loadPretrained({ file: dir }, config);
    expect([...init.params.keys()].sort()).toEqual([...params].sort());
    for (const n of params) expect(Buffer.from(init.params.get(n)!.buffer).equals(Buffer.from((p.read(n) as Float32Array).buffer))).toBe(true);
  });
});
