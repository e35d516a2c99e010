/**
 * Fine-tuning from pretrained weights (Trainer option init, lib/train/pretrained.ts), end to end: a
 * model trained here on an image folder (made by the test with sharp) at 8x8 pixels and 5 classes is
 * exported under timm's names, then reloaded with init { format: 'timm' } at 12x12 pixels (a 2x2 to
 * 3x3 patch grid) and 3 classes. The first step's loss and gradient norm must equal those computed by
 * a plain forward/backward program from weights resampled by this file's own float64 reference of
 * bilinear resampling (torch's align_corners=False, written as 1-D interpolation matrices, not as the
 * library's per-pixel taps): relative 1e-6 for the loss, 1e-5 for the gradient norm (fp32 programs,
 * the same kernels; the difference is only the f32 rounding of the resampled table). The position
 * table the Trainer holds before its first step must match the reference to 1e-6 (f32 rounding).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

import { buildVit, getPreset, paramSpecs, validateConfig, type ModelConfig } from '../../lib/model';
import { DataLoader, loadImageFolder } from '../../lib/data';
import { writeSafetensors } from '../../lib/io/safetensors';
import { nativeToTimm, timmToNative } from '../../lib/io/timm-names';
import { openDevice, type Device } from '../../lib/runtime';
import { fetchBatch } from '../../lib/train/batch-source';
import { Trainer } from '../../lib/train/trainer';
import { vitModel } from '../../lib/train/vit-model';
import { compileStep } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';
import { thrownBy } from '../helpers/errors';
import type { Vit22bError } from '../../lib/runtime/errors';
import type { StepEvent } from '../../lib/train/events';

let device: Device;
let tmp: string;
let folder: string;

/** A timm-compatible small ViT: classic sequential blocks, class token, LayerNorm, erf GELU. */
const source: ModelConfig = getPreset('vit-ti/16', { imageSize: 8, patchSize: 4, channels: 3, width: 16, depth: 2, heads: 2, mlpDim: 32, numClasses: 5, gelu: 'erf' });
const target: ModelConfig = validateConfig({ ...source, imageSize: 12, numClasses: 3 });

/** 3 classes x 4 images of 20x20 pixels: a bright square in a class-dependent corner over noise. */
async function makeFolder(root: string): Promise<void> {
  const rng = mulberry32(11);
  for (let c = 0; c < 3; ++c) {
    fs.mkdirSync(path.join(root, `class${c}`), { recursive: true });
    for (let i = 0; i < 4; ++i) {
      const data = Buffer.alloc(20 * 20 * 3);
      for (let y = 0; y < 20; ++y) {
        for (let x = 0; x < 20; ++x) {
          const on = (c === 0 && x < 10 && y < 10) || (c === 1 && x >= 10 && y < 10) || (c === 2 && y >= 10);
          for (let k = 0; k < 3; ++k) data[(y * 20 + x) * 3 + k] = Math.round((on ? 180 : 40) + 60 * rng());
        }
      }
      await sharp(data, { raw: { width: 20, height: 20, channels: 3 } }).png().toFile(path.join(root, `class${c}`, `${i}.png`));
    }
  }
}

/** 1-D bilinear interpolation matrix [out, in] of torch's align_corners=False (float64). */
function interpMatrix(n: number, m: number): number[][] {
  const a = Array.from({ length: m }, () => new Array<number>(n).fill(0));
  for (let o = 0; o < m; ++o) {
    const x = Math.max(0, ((o + 0.5) * n) / m - 0.5);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, n - 1);
    a[o]![lo]! += 1 - (x - lo);
    a[o]![hi]! += x - lo;
  }
  return a;
}

/** Reference: rows [prefix | g x g grid] -> [prefix | h x h grid], out = A G A^T per channel. */
function referenceResample(pos: Float32Array, dim: number, prefix: number, g: number, h: number): Float64Array {
  const a = interpMatrix(g, h);
  const out = new Float64Array((prefix + h * h) * dim);
  for (let i = 0; i < prefix * dim; ++i) out[i] = pos[i]!;
  for (let k = 0; k < dim; ++k) {
    for (let y = 0; y < h; ++y) {
      for (let x = 0; x < h; ++x) {
        let s = 0;
        for (let u = 0; u < g; ++u) for (let v = 0; v < g; ++v) s += a[y]![u]! * pos[(prefix + u * g + v) * dim + k]! * a[x]![v]!;
        out[(prefix + y * h + x) * dim + k] = s;
      }
    }
  }
  return out;
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

beforeAll(async () => {
  device = openDevice({ device: 'cpu' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-finetune-'));
  folder = path.join(tmp, 'images');
  await makeFolder(folder);
});
afterAll(() => {
  device.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function loader(imageSize: number): Promise<DataLoader> {
  const ds = await loadImageFolder(folder, { imageSize });
  return new DataLoader(ds, { batch: 6, seed: 4, shuffle: true, dropLast: true });
}

/** Trains the source model a few steps and exports it under timm's names; returns the file. */
async function pretrainAndExport(): Promise<string> {
  using t = new Trainer({
    device,
    model: vitModel(source),
    train: await loader(8),
    steps: 3,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'constant', lr: 3e-3, warmup: 0 },
    seed: 1,
    modelConfig: source,
  });
  await t.run();
  const params = new Map(paramSpecs(source).map((s) => [s.name, t.program.read(s.name) as Float32Array]));
  const file = path.join(tmp, 'pretrained-timm.safetensors');
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [n, v] of nativeToTimm(source, params)) tensors[n] = { dtype: 'F32', shape: v.shape, data: v.data };
  writeSafetensors(file, tensors);
  return file;
}

test('a model trained here, exported to timm, fine-tunes at another size and class count: first-step loss and gradient norm match a float64 resampling reference', async () => {
  const file = await pretrainAndExport();
  const train = await loader(12);
  using t = new Trainer({
    device,
    model: vitModel(target),
    train,
    steps: 2,
    optimizer: { kind: 'adamw', weightDecay: 1e-4 },
    schedule: { kind: 'constant', lr: 1e-3, warmup: 0 },
    seed: 2,
    modelConfig: target,
    init: { file, format: 'timm' },
  });
  expect(t.initNotes.join('\n')).toMatch(/classifier is re-initialized.*5 classes.*3/);
  expect(t.initNotes.join('\n')).toMatch(/2x2 to a 3x3 patch grid/);

  // The reference weights: the exported file read back, its grid resampled here in float64.
  const { SafetensorsFile } = await import('../../lib/io/safetensors');
  using f = SafetensorsFile.open(file);
  const sd = new Map(f.names().map((n) => [n, { shape: f.entry(n).shape, data: f.readHost(n) as Float32Array }]));
  const native = timmToNative(source, sd);
  const refPos = referenceResample(native.get('pos')!, target.width, 1, 2, 3);
  const held = t.program.read('pos') as Float32Array;
  let posErr = 0;
  refPos.forEach((v, i) => (posErr = Math.max(posErr, Math.abs(held[i]! - v) / Math.max(Math.abs(v), 1e-3))));
  expect(posErr).toBeLessThan(1e-6);

  const events: StepEvent[] = [];
  for await (const e of t.steps()) if (e.type === 'step') events.push(e);
  const first = events[0]!;

  // The same first batch, through a plain forward/backward program holding the reference weights
  // and a classifier at its initialization (zero kernel, bias headBiasInit).
  const batch = await fetchBatch(await loader(12), 0);
  const n = batch.labels.length;
  using p = compileStep(device, (b) => buildVit(b, target, { batch: n }), { images: [n, 12, 12, 3], labels: [n] });
  for (const s of paramSpecs(target)) {
    if (s.name === 'head/w') p.write(s.name, new Float32Array(s.shape[0]! * s.shape[1]!));
    else if (s.name === 'head/b') p.write(s.name, new Float32Array(s.shape[0]!).fill(target.headBiasInit));
    else if (s.name === 'pos') p.write(s.name, Float32Array.from(refPos));
    else p.write(s.name, native.get(s.name)!);
  }
  const out = await p.run({ images: batch.images as Float32Array, labels: batch.labels }, { lr: 0, step: 1 });
  let sq = 0;
  for (const name of p.parameterNames()) for (const g of p.read(`grad/${name}`) as Float32Array) sq += g * g;
  const refLoss = (out.loss as Float32Array)[0]!;
  const refNorm = Math.sqrt(sq);
  console.log(`fine-tune first step: loss ${first.loss} (reference ${refLoss}), gradient norm ${first.gradNorm} (reference ${refNorm}); position table max rel error ${posErr.toExponential(2)}`);
  expect(rel(first.loss, refLoss)).toBeLessThanOrEqual(1e-6);
  expect(rel(first.gradNorm, refNorm)).toBeLessThanOrEqual(1e-5);
  // A zero classifier makes the first loss ln(3) whatever the body: the gradient norm is what sees it.
  expect(first.loss).toBeCloseTo(Math.log(3), 5);
  expect(events[1]!.loss).not.toBe(first.loss);
}, 120_000);

test('the same class count keeps the classifier: the first loss itself depends on the resampled body', async () => {
  const file = path.join(tmp, 'pretrained-timm.safetensors');
  const same = validateConfig({ ...target, numClasses: 5 });
  using t = new Trainer({
    device,
    model: vitModel(same),
    train: await loader(12),
    steps: 1,
    optimizer: { kind: 'adamw', weightDecay: 0 },
    schedule: { kind: 'constant', lr: 1e-3, warmup: 0 },
    modelConfig: same,
    init: { file, format: 'timm' },
  });
  expect(t.initNotes).toHaveLength(1);
  const { SafetensorsFile } = await import('../../lib/io/safetensors');
  using f = SafetensorsFile.open(file);
  const native = timmToNative(source, new Map(f.names().map((n) => [n, { shape: f.entry(n).shape, data: f.readHost(n) as Float32Array }])));
  const batch = await fetchBatch(await loader(12), 0);
  const n = batch.labels.length;
  using p = compileStep(device, (b) => buildVit(b, same, { batch: n }), { images: [n, 12, 12, 3], labels: [n] });
  for (const s of paramSpecs(same)) p.write(s.name, s.name === 'pos' ? Float32Array.from(referenceResample(native.get('pos')!, same.width, 1, 2, 3)) : native.get(s.name)!);
  const refLoss = ((await p.run({ images: batch.images as Float32Array, labels: batch.labels }, { lr: 0, step: 1 })).loss as Float32Array)[0]!;
  const s = await t.run();
  expect(Math.abs(refLoss - Math.log(5))).toBeGreaterThan(1e-3);
  expect(rel(s.finalLoss, refLoss)).toBeLessThanOrEqual(1e-6);
}, 120_000);

test('a channel-count mismatch is ERR_INVALID_CONFIG naming channels, a class token under MAP names class_token; a missing file is ERR_DATA_NOT_FOUND', async () => {
  const file = path.join(tmp, 'pretrained-timm.safetensors');
  const grey = validateConfig({ ...target, channels: 1 });
  const make = (init: { file: string; format: 'timm' | 'native' }, c: ModelConfig) => () =>
    new Trainer({ device, model: vitModel(c), train: { batch: 2, stepsPerEpoch: 1, dataset: { imageShape: [c.imageSize, c.imageSize, c.channels] } } as never, steps: 1, optimizer: { kind: 'adamw' }, schedule: { kind: 'constant', lr: 1e-3, warmup: 0 }, modelConfig: c, init });
  const e = thrownBy(make({ file, format: 'timm' }, grey)) as Vit22bError;
  expect([e.code, e.details.field, e.details.expected, e.details.received]).toEqual(['ERR_INVALID_CONFIG', 'channels', '1', '3']);
  const m = thrownBy(make({ file: path.join(tmp, 'nope.safetensors'), format: 'timm' }, target)) as Vit22bError;
  expect(m.code).toBe('ERR_DATA_NOT_FOUND');
  const map = validateConfig({ ...target, pool: 'map' });
  const cls = thrownBy(make({ file, format: 'timm' }, map)) as Vit22bError;
  expect([cls.code, cls.details.field]).toEqual(['ERR_INVALID_CONFIG', 'class_token']);
  const w = thrownBy(make({ file, format: 'native' }, target)) as Vit22bError;
  expect(w.code).toBe('ERR_INVALID_ARGUMENT');
});
