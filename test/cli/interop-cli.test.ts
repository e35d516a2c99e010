/**
 * `vit22b predict` and `vit22b grad`, in process: native and timm weights of the same model give the
 * same logits, features, loss and gradients (timm's under timm's names and layouts); NCHW input
 * equals NHWC; bad invocations and files are typed errors. Against PyTorch (when /usr/bin/python3
 * has torch): the reference model's logits to 1e-5 and gradients to 1e-4 through the command line.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nativeToTimm } from '../../lib/io/timm-names';
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from '../../lib/io/safetensors';
import { paramSpecs, validateConfig, type ModelConfig } from '../../lib/model';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';
import { cli } from '../helpers/cli-run';

const config: ModelConfig = validateConfig({
  imageSize: 8,
  patchSize: 4,
  channels: 3,
  width: 8,
  depth: 2,
  heads: 2,
  mlpDim: 12,
  numClasses: 4,
  block: 'parallel',
  qkNorm: true,
  qkNormCenter: false,
  qkvBias: false,
  mlpBias: true,
  norm: 'rmsnorm',
  normBias: false,
  pool: 'map',
  posEmb: 'learned',
  headBiasInit: 0,
  gelu: 'erf',
});
const B = 2;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-interop-cli-'));
  const rng = mulberry32(5);
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify(config));
  const params = new Map(paramSpecs(config).map((s) => [s.name, normals(rng, s.shape.reduce((a, b) => a * b, 1), 0.5)]));
  const native: Record<string, SafetensorsTensor> = {};
  for (const s of paramSpecs(config)) native[s.name] = { dtype: 'F32', shape: s.shape, data: params.get(s.name)! };
  writeSafetensors(path.join(dir, 'native.safetensors'), native);
  const timm: Record<string, SafetensorsTensor> = {};
  for (const [n, t] of nativeToTimm(config, params)) timm[n] = { dtype: 'F32', shape: t.shape, data: t.data };
  writeSafetensors(path.join(dir, 'timm.safetensors'), timm);
  const nhwc = normals(rng, B * 8 * 8 * 3);
  const nchw = new Float32Array(nhwc.length);
  for (let b = 0; b < B; ++b) for (let y = 0; y < 8; ++y) for (let x = 0; x < 8; ++x) for (let c = 0; c < 3; ++c) nchw[((b * 3 + c) * 8 + y) * 8 + x] = nhwc[((b * 8 + y) * 8 + x) * 3 + c]!;
  const labels = Int32Array.from([1, 3]);
  writeSafetensors(path.join(dir, 'nhwc.safetensors'), { images: { dtype: 'F32', shape: [B, 8, 8, 3], data: nhwc }, labels: { dtype: 'I32', shape: [B], data: labels } });
  writeSafetensors(path.join(dir, 'nchw.safetensors'), { images: { dtype: 'F32', shape: [B, 3, 8, 8], data: nchw }, labels: { dtype: 'I32', shape: [B], data: labels } });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function readAll(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  using f = SafetensorsFile.open(file);
  return new Map(f.names().map((n) => [n, { shape: f.entry(n).shape, data: f.readHost(n) as Float32Array }]));
}

const at = (name: string): string => path.join(dir, name);
const common = (weights: string, format: string, input: string, output: string): string[] => [
  '--config', at('cfg.json'), '--weights', at(weights), '--weights-format', format, '--input', at(input), '--output', at(output), '--device', 'cpu',
];

test('predict: native and timm weights, NHWC and NCHW, give the same logits and features', async () => {
  expect((await cli(['predict', ...common('native.safetensors', 'native', 'nhwc.safetensors', 'p1.safetensors')])).code).toBe(0);
  const r = await cli(['predict', ...common('timm.safetensors', 'timm', 'nchw.safetensors', 'p2.safetensors'), '--layout', 'nchw']);
  expect(r).toMatchObject({ code: 0, err: '' });
  const a = readAll(at('p1.safetensors'));
  const b = readAll(at('p2.safetensors'));
  expect(a.get('logits')!.shape).toEqual([B, 4]);
  expect(a.get('features')!.shape).toEqual([B, 8]);
  expect(b.get('logits')!.data).toEqual(a.get('logits')!.data);
  expect(b.get('features')!.data).toEqual(a.get('features')!.data);
});

test("grad: timm weights give timm-named gradients equal to the native run's, mapped", async () => {
  expect((await cli(['grad', ...common('native.safetensors', 'native', 'nhwc.safetensors', 'g1.safetensors')])).code).toBe(0);
  expect((await cli(['grad', ...common('timm.safetensors', 'timm', 'nhwc.safetensors', 'g2.safetensors')])).code).toBe(0);
  const native = readAll(at('g1.safetensors'));
  const timm = readAll(at('g2.safetensors'));
  expect(timm.get('loss')!.data).toEqual(native.get('loss')!.data);
  const grads = new Map([...native].filter(([n]) => n !== 'loss').map(([n, t]) => [n, t.data]));
  const mapped = nativeToTimm(config, grads, { gradients: true });
  expect(new Set(timm.keys())).toEqual(new Set(['loss', ...mapped.keys()]));
  for (const [n, t] of mapped) {
    expect(timm.get(n)!.shape).toEqual(t.shape);
    expect(timm.get(n)!.data).toEqual(t.data);
  }
});

test('bad invocations and files are typed errors', async () => {
  const noConfig = await cli(['predict', '--weights', at('native.safetensors')]);
  expect(noConfig.code).not.toBe(0);
  expect(noConfig.err).toMatch(/ERR_USAGE|--config is required/);
  const wrongFormat = await cli(['predict', ...common('native.safetensors', 'timm', 'nhwc.safetensors', 'p3.safetensors')]);
  expect(wrongFormat.code).not.toBe(0);
  expect(wrongFormat.err).toMatch(/timm interop: tensors this model has no place for/);
  const wrongLayout = await cli(['predict', ...common('native.safetensors', 'native', 'nhwc.safetensors', 'p4.safetensors'), '--layout', 'nchw']);
  expect(wrongLayout.code).not.toBe(0);
  expect(wrongLayout.err).toMatch(/images must be \[B, 3, 8, 8\]/);
  const noLabels = at('nolabels.safetensors');
  writeSafetensors(noLabels, { images: { dtype: 'F32', shape: [1, 8, 8, 3], data: new Float32Array(192) } });
  const grad = await cli(['grad', ...common('native.safetensors', 'native', 'nolabels.safetensors', 'g3.safetensors')]);
  expect(grad.code).not.toBe(0);
  expect(grad.err).toMatch(/needs labels/);
});

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0;
// Where CI requires torch (VIT22B_REQUIRE_TORCH=1) these run, and fail, without it.
(hasTorch || process.env.VIT22B_REQUIRE_TORCH === '1' ? test.each : test.skip.each)([['softmax'], ['sigmoid']])('against the PyTorch reference through the command line (parallel, map, separate out projections, %s loss)', async (loss) => {
  const ref = at(`ref-${loss}`);
  fs.mkdirSync(ref, { recursive: true });
  fs.writeFileSync(path.join(ref, 'cfg.json'), JSON.stringify({ ...config, batch: 3, seed: 9, fuseOutProj: false, loss }));
  const py = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', 'interop', 'reference_vit.py'), path.join(ref, 'cfg.json'), ref], { encoding: 'utf8' });
  expect(py.stderr).toBe('');
  const args = ['--config', at('cfg.json'), '--weights', path.join(ref, 'weights.safetensors'), '--weights-format', 'timm', '--input', path.join(ref, 'input.safetensors'), '--layout', 'nchw', '--device', 'cpu'];
  expect((await cli(['predict', ...args, '--output', path.join(ref, 'p.safetensors')])).code).toBe(0);
  expect((await cli(['grad', ...args, '--loss', loss, '--output', path.join(ref, 'g.safetensors')])).code).toBe(0);
  // The reference is F64, which the library's readHost does not hand out: read it raw.
  using f = SafetensorsFile.open(path.join(ref, 'reference.safetensors'));
  const f64 = (n: string): Float64Array => {
    const b = f.read(n);
    return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  };
  const rel = (a: Float32Array, r: Float64Array): number => Math.max(...a.map((v, i) => Math.abs(v - r[i]!))) / Math.max(...Array.from(r, Math.abs));
  const p = readAll(path.join(ref, 'p.safetensors'));
  expect(rel(p.get('logits')!.data, f64('logits'))).toBeLessThanOrEqual(1e-5);
  expect(rel(p.get('features')!.data, f64('features'))).toBeLessThanOrEqual(1e-5);
  const g = readAll(path.join(ref, 'g.safetensors'));
  expect(rel(g.get('loss')!.data, f64('loss'))).toBeLessThanOrEqual(1e-5);
  for (const [n, t] of g) if (n !== 'loss') expect({ n, ok: rel(t.data, f64(`grad.${n}`)) <= 1e-4 }).toEqual({ n, ok: true });
});
