/**
 * Checkpoints hold global tensors whatever the mesh: a run on a 2x2 mesh interrupted after step 4
 * and resumed on one device for steps 5..8 (and the reverse) ends where an unsharded 8-step run
 * ends, up to summation order (fp32; every parameter and optimizer state within 1e-4 of its scale).
 * Also: the trainer's summary reports the mesh, and a mesh that does not fit the model is refused
 * before anything is built.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { getPreset } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer';
import { vitModel } from '../../lib/train/vit-model';
import { thrownBy } from '../helpers/errors';
import { toySource } from '../helpers/toy-data';

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
