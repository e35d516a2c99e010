/**
 * Parity with PyTorch: test/interop/reference_vit.py builds a random model following timm's
 * VisionTransformer semantics and names, and computes (in float64) logits, pre-logits features, the
 * softmax loss and every parameter's gradient. We load its state dict through lib/io/timm-names,
 * run the same images through our fp32 CPU executor, export our gradients back to timm's names and
 * compare: logits and features to 1e-5, gradients to 1e-4 (relative: max |ours - ref| / max |ref|
 * per tensor).
 *
 * Needs torch in /usr/bin/python3 (Debian's python3-torch). Without it this file skips with a
 * message on a developer machine, and FAILS where VIT22B_REQUIRE_TORCH=1 (CI sets it in .ci/run).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildVit, openDevice, validateConfig, type Device, type ModelConfig } from '../../lib';
import { nativeToTimm, timmToNative, type TimmStateDict } from '../../lib/io/timm-names';
import { foldLayerScale } from '../../lib/io/timm-layer-scale';
import { compileStep } from '../helpers/graph-harness';
import { readSafetensors, type LiteTensor } from '../helpers/safetensors-lite';

// VIT22B_PYTHON points elsewhere only to test this file's own skip and fail paths.
const PYTHON = process.env.VIT22B_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'reference_vit.py');
const torchProbe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = torchProbe.status === 0;
const required = process.env.VIT22B_REQUIRE_TORCH === '1';

const base: ModelConfig = {
  imageSize: 8,
  patchSize: 4,
  channels: 3,
  width: 16,
  depth: 2,
  heads: 2,
  mlpDim: 24,
  numClasses: 5,
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
};

const cases: [string, Partial<ModelConfig>, boolean][] = [
  ['parallel, map, RmsNorm, QK-norm, separate out projections (ViT-22B)', {}, false],
  ['parallel, gap, LayerNorm, no QK-norm, qkv bias, fused out_proj, tanh GELU', { pool: 'gap', norm: 'layernorm', normBias: true, qkNorm: false, qkvBias: true, gelu: 'tanh' }, true],
  ['parallel, token, RmsNorm, QK-norm, qkv bias, fused out_proj, eps 1e-2', { pool: 'token', qkvBias: true, normEps: 1e-2 }, true],
  ['sequential, token, LayerNorm, QK-norm, biases', { block: 'sequential', pool: 'token', norm: 'layernorm', normBias: true, qkNormCenter: true, qkvBias: true }, false],
  ['sequential, map, RmsNorm, no QK-norm, no biases, tanh GELU', { block: 'sequential', qkNorm: false, mlpBias: false, gelu: 'tanh' }, false],
  ['sequential, gap, RmsNorm, QK-norm, biases, 3 blocks', { block: 'sequential', pool: 'gap', qkvBias: true, depth: 3 }, false],
  ['sequential, avg + fc_norm, LayerNorm, biases (timm ViT default for avg)', { block: 'sequential', pool: 'gap', fcNorm: true, norm: 'layernorm', normBias: true, qkNorm: false, qkvBias: true }, false],
  ['parallel, avg + fc_norm, RmsNorm, QK-norm', { pool: 'gap', fcNorm: true }, false],
];

/** max |a - b| / max |b| over a tensor. */
function relError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(ours.length).toBe(ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; ++i) {
    diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

function nchwToNhwc(t: LiteTensor): Float32Array {
  const [b, c, h, w] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let n = 0; n < b; ++n) for (let k = 0; k < c; ++k) for (let y = 0; y < h; ++y) for (let x = 0; x < w; ++x) out[((n * h + y) * w + x) * c + k] = t.data[((n * c + k) * h + y) * w + x]!;
  return out;
}

function runReference(config: ModelConfig, fuseOutProj: boolean, seed: number, extra: Record<string, unknown> = {}): { weights: Map<string, LiteTensor>; input: Map<string, LiteTensor>; ref: Map<string, LiteTensor> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-timm-'));
  try {
    const cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...config, batch: 3, seed, fuseOutProj, ...extra }));
    const r = spawnSync(PYTHON, [SCRIPT, cfgFile, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`reference_vit.py failed (${r.status}): ${r.stderr}`);
    return {
      weights: readSafetensors(path.join(dir, 'weights.safetensors')),
      input: readSafetensors(path.join(dir, 'input.safetensors')),
      ref: readSafetensors(path.join(dir, 'reference.safetensors')),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const asStateDict = (m: Map<string, LiteTensor>): TimmStateDict => new Map([...m].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));

if (!hasTorch && !required) {
  test.skip(`timm parity: ${PYTHON} has no torch (apt-get install python3-torch to run these)`, () => {});
} else {
  if (!hasTorch) {
    test('timm parity needs torch (VIT22B_REQUIRE_TORCH=1)', () => {
      throw new Error(`${PYTHON} cannot import torch, and VIT22B_REQUIRE_TORCH=1 requires these parity tests: ${torchProbe.stderr || torchProbe.error?.message}`);
    });
  }
  let device: Device;
  beforeAll(() => {
    device = openDevice({ device: 'cpu' });
  });
  afterAll(() => device?.dispose());

  const describeTorch = hasTorch ? describe : describe.skip;
  describeTorch('timm parity with a PyTorch reference (fp32 ours vs float64 reference)', () => {
    cases.forEach(([name, over, fuseOutProj], k) => {
      test(name, async () => {
        const config = validateConfig({ ...base, ...over });
        const { weights, input, ref } = runReference(config, fuseOutProj, 100 + k);
        const sd = asStateDict(weights);
        const params = timmToNative(config, sd);
        const batch = input.get('labels')!.shape[0]!;
        const s = config.imageSize;
        using p = compileStep(device, (b) => buildVit(b, config, { batch, logits: true, features: true }), { images: [batch, s, s, config.channels], labels: [batch] });
        expect(new Set(p.parameterNames())).toEqual(new Set(params.keys()));
        for (const [n, v] of params) p.write(n, v);
        const out = await p.run({ images: nchwToNhwc(input.get('images')!), labels: input.get('labels')!.data as Int32Array }, { lr: 0, step: 1 });
        const errors: Record<string, number> = {
          logits: relError(out.logits as Float32Array, ref.get('logits')!.data),
          features: relError(out.features as Float32Array, ref.get('features')!.data),
          loss: relError(out.loss as Float32Array, ref.get('loss')!.data),
        };
        const grads = new Map(p.parameterNames().map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
        const timmGrads = nativeToTimm(config, grads, { gradients: true, fuseOutProj });
        expect(new Set(timmGrads.keys())).toEqual(new Set(weights.keys()));
        // k_norm's bias shifts every key of a head by the same vector, which softmax ignores: its
        // exact gradient is zero (float64 gives ~1e-17), so no relative error exists. Such tensors
        // are measured against the largest gradient of the model instead.
        let gradScale = 0;
        for (const n of timmGrads.keys()) for (const v of ref.get(`grad.${n}`)!.data) gradScale = Math.max(gradScale, Math.abs(v));
        let worstGrad = 0;
        let worstName = '';
        for (const [n, g] of timmGrads) {
          const r = ref.get(`grad.${n}`)!.data;
          const exactZero = n.endsWith('k_norm.bias');
          if (exactZero) expect(Math.max(...Array.from(r, Math.abs))).toBeLessThan(1e-12 * gradScale);
          const e = exactZero ? relError(g.data, r) * Math.max(...Array.from(r, Math.abs)) / gradScale : relError(g.data, r);
          if (e > worstGrad) [worstGrad, worstName] = [e, n];
          expect({ tensor: n, ok: e <= 1e-4 }).toEqual({ tensor: n, ok: true });
        }
        console.log(`${name}: logits ${errors.logits!.toExponential(2)}, features ${errors.features!.toExponential(2)}, loss ${errors.loss!.toExponential(2)}, worst gradient ${worstGrad.toExponential(2)} (${worstName})`);
        expect(errors.logits).toBeLessThanOrEqual(1e-5);
        expect(errors.features).toBeLessThanOrEqual(1e-5);
        expect(errors.loss).toBeLessThanOrEqual(1e-5);
      });
    });

    // LayerScale (DeiT III, DINOv2) folded into attn.proj / mlp.fc2: the forward is the same
    // function (logits and features to 1e-5); gradients under timm's names do not exist for it.
    test('sequential, token, LayerNorm, LayerScale folded (forward)', async () => {
      const config = validateConfig({ ...base, block: 'sequential', pool: 'token', norm: 'layernorm', normBias: true, qkNorm: false, qkvBias: true });
      const { weights, input, ref } = runReference(config, false, 300, { layerScale: true });
      const sd = asStateDict(weights);
      expect(sd.has('blocks.1.ls2.gamma')).toBe(true);
      const { sd: folded, folded: n } = foldLayerScale(sd);
      expect(n).toBe(2 * config.depth);
      const params = timmToNative(config, folded);
      const batch = input.get('labels')!.shape[0]!;
      const s = config.imageSize;
      using p = compileStep(device, (b) => buildVit(b, config, { batch, logits: true, features: true }), { images: [batch, s, s, config.channels], labels: [batch] });
      for (const [k, v] of params) p.write(k, v);
      const out = await p.run({ images: nchwToNhwc(input.get('images')!), labels: input.get('labels')!.data as Int32Array }, { lr: 0, step: 1 });
      const logits = relError(out.logits as Float32Array, ref.get('logits')!.data);
      const features = relError(out.features as Float32Array, ref.get('features')!.data);
      console.log(`LayerScale folded: logits ${logits.toExponential(2)}, features ${features.toExponential(2)}`);
      expect(logits).toBeLessThanOrEqual(1e-5);
      expect(features).toBeLessThanOrEqual(1e-5);
    });
  });
}
