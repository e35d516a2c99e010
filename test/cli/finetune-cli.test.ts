/**
 * The fine-tuning command line on an image folder made here with sharp: `train` saves a checkpoint
 * with its class names and normalization; `predict --images` prints labels, and its probabilities
 * equal the softmax of `predict --input` logits on the same images read by the training pipeline
 * (1e-6); bad images and paths are typed errors; `train --init` from the checkpoint at another image
 * size says what it adapted; `--freeze body` leaves every body parameter bit for bit as it was;
 * `--resume` with more steps is refused without `--extend` and runs with it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

import { DataLoader, loadImageFolder } from '../../lib/data';
import { getPreset } from '../../lib/model';
import { SafetensorsFile, writeSafetensors } from '../../lib/io/safetensors';
import { cli } from '../helpers/cli-run';
import { mulberry32 } from '../helpers/prng';

let dir: string;
// A timm-compatible small ViT (the classic preset's switches) with timm's average pooling + fc_norm.
const config = getPreset('vit-ti/16', { imageSize: 8, patchSize: 4, channels: 3, width: 16, depth: 2, heads: 2, mlpDim: 32, numClasses: 3, pool: 'gap', fcNorm: true, gelu: 'erf' });

const at = (...p: string[]): string => path.join(dir, ...p);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-finetune-cli-'));
  const rng = mulberry32(3);
  for (const [c, name] of ['cat', 'dog', 'fox'].entries()) {
    fs.mkdirSync(at('images', name), { recursive: true });
    for (let i = 0; i < 4; ++i) {
      const w = 16 + 4 * i;
      const data = Buffer.alloc(w * 16 * 3);
      for (let j = 0; j < w * 16; ++j) for (let k = 0; k < 3; ++k) data[j * 3 + k] = Math.round(k === c ? 200 + 50 * rng() : 60 * rng());
      await sharp(data, { raw: { width: w, height: 16, channels: 3 } }).png().toFile(at('images', name, `${i}.png`));
    }
  }
  fs.writeFileSync(at('cfg.json'), JSON.stringify(config));
  fs.writeFileSync(at('cfg12.json'), JSON.stringify({ ...config, imageSize: 12 }));
  const r = await cli(['train', '--config', at('cfg.json'), '--data', at('images'), '--steps', '4', '--batch', '6', '--lr', '3e-3', '--save-every', '4', '--checkpoint-dir', at('ck'), '--progress', 'none']);
  expect(r).toMatchObject({ code: 0 });
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('predict --images --checkpoint prints top-k labels; --json probabilities equal the softmax of the tensor path on training-pipeline images', async () => {
  const text = await cli(['predict', '--images', at('images'), '--checkpoint', at('ck'), '--top', '2']);
  expect(text.code).toBe(0);
  const lines = text.out.trim().split('\n');
  expect(lines).toHaveLength(12);
  for (const l of lines) expect(l).toMatch(/\.png: (cat|dog|fox) \d+\.\d\d%, (cat|dog|fox) \d+\.\d\d%$/);

  const json = await cli(['predict', '--images', at('images'), '--checkpoint', at('ck'), '--top', '3', '--json']);
  const results = JSON.parse(json.out) as { file: string; predictions: { label: string; index: number; probability: number }[] }[];
  expect(results.map((r) => path.relative(at('images'), r.file))).toEqual(['cat', 'dog', 'fox'].flatMap((c) => [0, 1, 2, 3].map((i) => path.join(c, `${i}.png`))));

  // The same images through the training pipeline (image folder + DataLoader, the training set's
  // normalization), then `predict --input` with the checkpoint's weights as a native file.
  const ds = await loadImageFolder(at('images'), { imageSize: 8 });
  const loader = new DataLoader(ds, { batch: 12, seed: 0, shuffle: false, dropLast: false });
  const batch = loader.batchAt(0);
  writeSafetensors(at('input.safetensors'), { images: { dtype: 'F32', shape: [12, 8, 8, 3], data: batch.images as Float32Array } });
  const step = at('ck', 'step-4', 'model.safetensors');
  const p = await cli(['predict', '--config', at('cfg.json'), '--weights', step, '--input', at('input.safetensors'), '--output', at('logits.safetensors')]);
  expect(p.code).toBe(0);
  using f = SafetensorsFile.open(at('logits.safetensors'));
  const logits = f.readHost('logits') as Float32Array;
  let worst = 0;
  results.forEach((r, i) => {
    const z = Array.from(logits.subarray(i * 3, i * 3 + 3));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    for (const q of r.predictions) worst = Math.max(worst, Math.abs(q.probability - e[q.index]! / s));
    expect(r.predictions.map((q) => q.label)).toEqual(r.predictions.map((q) => ['cat', 'dog', 'fox'][q.index]));
    expect(r.predictions[0]!.probability).toBeGreaterThanOrEqual(r.predictions[1]!.probability);
  });
  expect(worst).toBeLessThan(1e-6);

  const bf16 = await cli(['predict', '--images', at('images', 'cat', '0.png'), '--checkpoint', at('ck'), '--precision', 'bf16-mixed', '--json']);
  expect(bf16.code).toBe(0);
  const b = JSON.parse(bf16.out) as typeof results;
  expect(Math.abs(b[0]!.predictions[0]!.probability - results[0]!.predictions[0]!.probability)).toBeLessThan(0.05);
}, 120_000);

test('export --format timm, then predict --images with the timm file gives the checkpoint\'s probabilities; train --init it with another class count', async () => {
  const e = await cli(['export', '--checkpoint', at('ck'), '--output', at('timm.safetensors'), '--json']);
  expect(e.code).toBe(0);
  expect(JSON.parse(e.out)).toMatchObject({ format: 'timm', step: 4 });
  using f = SafetensorsFile.open(at('timm.safetensors'));
  expect(f.has('fc_norm.weight') && f.has('blocks.1.mlp.fc2.bias') && !f.has('norm.weight')).toBe(true);
  const viaCk = JSON.parse((await cli(['predict', '--images', at('images'), '--checkpoint', at('ck'), '--normalize', 'imagenet', '--json'])).out) as { predictions: { probability: number; index: number }[] }[];
  const viaTimm = JSON.parse((await cli(['predict', '--images', at('images'), '--config', at('timm.json'), '--weights', at('timm.safetensors'), '--weights-format', 'timm', '--normalize', 'imagenet', '--json'])).out) as typeof viaCk;
  viaTimm.forEach((r, i) => r.predictions.forEach((p, j) => {
    expect(p.index).toBe(viaCk[i]!.predictions[j]!.index);
    expect(Math.abs(p.probability - viaCk[i]!.predictions[j]!.probability)).toBeLessThan(1e-6);
  }));
  fs.writeFileSync(at('cfg2.json'), JSON.stringify({ ...config, imageSize: 12 }));
  fs.mkdirSync(at('two', 'a'), { recursive: true });
  fs.mkdirSync(at('two', 'b'), { recursive: true });
  for (const n of ['0', '1', '2']) {
    fs.copyFileSync(at('images', 'cat', `${n}.png`), at('two', 'a', `${n}.png`));
    fs.copyFileSync(at('images', 'dog', `${n}.png`), at('two', 'b', `${n}.png`));
  }
  const t = await cli(['train', '--config', at('cfg2.json'), '--data', at('two'), '--init', at('timm.safetensors'), '--weights-format', 'timm', '--head-lr-mult', '10', '--layer-decay', '0.75', '--steps', '2', '--batch', '6', '--progress', 'none', '--json']);
  expect(t.code).toBe(0);
  expect(t.err).toMatch(/classifier is re-initialized: the weights have 3 classes, the task 2/);
  expect(t.err).toMatch(/2x2 to a 3x3 patch grid/);
  expect(Number.isFinite(JSON.parse(t.out).finalLoss)).toBe(true);
}, 120_000);

test('bad images, missing paths and label files are typed errors', async () => {
  fs.mkdirSync(at('bad'), { recursive: true });
  fs.writeFileSync(at('bad', 'a.png'), 'not a png');
  const corrupt = await cli(['predict', '--images', at('bad'), '--checkpoint', at('ck'), '--json']);
  expect(corrupt.code).toBe(1);
  expect(JSON.parse(corrupt.out).error).toMatchObject({ code: 'ERR_DATA_CORRUPT', file: at('bad', 'a.png') });
  fs.mkdirSync(at('empty'), { recursive: true });
  const empty = JSON.parse((await cli(['predict', '--images', at('empty'), '--checkpoint', at('ck'), '--json'])).out).error;
  expect(empty).toMatchObject({ code: 'ERR_DATA_NOT_FOUND' });
  const missing = JSON.parse((await cli(['predict', '--images', at('nope'), '--checkpoint', at('ck'), '--json'])).out).error;
  expect(missing).toMatchObject({ code: 'ERR_DATA_NOT_FOUND', received: 'missing' });
  fs.writeFileSync(at('labels.txt'), 'a\nb\n');
  const labels = JSON.parse((await cli(['predict', '--images', at('images'), '--checkpoint', at('ck'), '--labels', at('labels.txt'), '--json'])).out).error;
  expect(labels).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: '3 lines', received: '2 lines' });
  const both = await cli(['predict', '--images', at('images'), '--checkpoint', at('ck'), '--config', at('cfg.json')]);
  expect(both.code).toBe(2);
  const grad = await cli(['grad', '--images', at('images'), '--config', at('cfg.json')]);
  expect([grad.code, grad.err]).toEqual([2, expect.stringMatching(/--images is an option of vit22b predict/)]);
});

test('train --init from a checkpoint at another image size resamples and says so; --freeze body keeps the body bit for bit', async () => {
  const r = await cli(['train', '--config', at('cfg12.json'), '--data', at('images'), '--init', at('ck'), '--freeze', 'body', '--steps', '2', '--batch', '6', '--save-every', '2', '--checkpoint-dir', at('ft'), '--progress', 'none']);
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/position embeddings resampled \(bilinear\) from a 2x2 to a 3x3 patch grid/);
  expect(r.err).not.toMatch(/classifier is re-initialized/);
  using before = SafetensorsFile.open(at('ck', 'step-4', 'model.safetensors'));
  using after = SafetensorsFile.open(at('ft', 'step-2', 'model.safetensors'));
  for (const n of after.names()) {
    if (n === 'pos') continue; // resampled
    const same = Buffer.compare(Buffer.from((before.readHost(n) as Float32Array).buffer), Buffer.from((after.readHost(n) as Float32Array).buffer)) === 0;
    expect({ n, same }).toEqual({ n, same: !n.startsWith('head/') });
  }
  const badFormat = JSON.parse((await cli(['train', '--config', at('cfg.json'), '--data', at('images'), '--init', at('ck'), '--weights-format', 'timm', '--steps', '1', '--json', '--progress', 'none'])).out).error;
  expect(badFormat.code).toBe('ERR_INVALID_ARGUMENT');
}, 120_000);

test('--resume with more steps is refused (trainer-mismatch) unless --extend, which continues to the new total', async () => {
  const base = ['train', '--config', at('cfg.json'), '--data', at('images'), '--batch', '6', '--lr', '3e-3', '--save-every', '2', '--progress', 'none', '--json'];
  expect((await cli([...base, '--steps', '2', '--checkpoint-dir', at('ext')])).code).toBe(0);
  const refused = JSON.parse((await cli([...base, '--steps', '4', '--resume', at('ext')])).out).error;
  expect(refused).toMatchObject({ code: 'ERR_CHECKPOINT', rule: 'trainer-mismatch' });
  const extended = await cli([...base, '--steps', '4', '--resume', at('ext'), '--extend']);
  expect(extended.code).toBe(0);
  expect(JSON.parse(extended.out).steps).toBe(4);
  expect(fs.existsSync(at('ext', 'step-4'))).toBe(true);
  const short = JSON.parse((await cli([...base, '--steps', '3', '--resume', at('ext'), '--extend'])).out).error;
  expect(short).toMatchObject({ code: 'ERR_CHECKPOINT', rule: 'extend-too-short' });
}, 120_000);
