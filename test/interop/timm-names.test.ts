/**
 * The timm name mapping on its own: configurations with no exact timm counterpart are typed errors
 * naming the field; our parameters survive export and import bit for bit (fused and separate output
 * projections); state dicts with unknown, missing or misshapen tensors are typed errors naming them.
 */
import { paramSpecs, validateConfig, Vit22bError, type ModelConfig } from '../../lib';
import { nativeToTimm, timmCompatibility, timmToNative, type NativeParams } from '../../lib/io/timm-names';
import { thrownBy } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';

const base: ModelConfig = validateConfig({
  imageSize: 8,
  patchSize: 4,
  channels: 3,
  width: 8,
  depth: 2,
  heads: 2,
  mlpDim: 12,
  numClasses: 3,
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
});

function randomParams(c: ModelConfig, seed: number): NativeParams {
  const rng = mulberry32(seed);
  return new Map(paramSpecs(c).map((s) => [s.name, normals(rng, s.shape.reduce((a, b) => a * b, 1))]));
}

test('validateConfig fills normEps (timm: 1e-6) and gelu (tanh) in, and checks them', () => {
  expect(base.normEps).toBe(1e-6);
  expect(base.gelu).toBe('tanh');
  const e = thrownBy(() => validateConfig({ ...base, normEps: 0 })) as Vit22bError;
  expect(e.code).toBe('ERR_INVALID_CONFIG');
  expect(e.details.field).toBe('normEps');
});

test.each<[string, Partial<ModelConfig>]>([
  ['posEmb', { posEmb: 'sincos2d' }],
  ['normBias', { norm: 'layernorm', normBias: false }],
  ['qkNormCenter', { qkNormCenter: true }],
  ['mlpBias', { block: 'sequential', qkvBias: true, mlpBias: false }],
  ['mlpBias', { mlpBias: false }],
])('a config with no exact timm counterpart is refused, naming %s', (field, over) => {
  const e = thrownBy(() => timmCompatibility({ ...base, ...over })) as Vit22bError;
  expect(e).toBeInstanceOf(Vit22bError);
  expect(e.code).toBe('ERR_INVALID_CONFIG');
  expect(e.details.field).toBe(field);
});

test.each<[string, Partial<ModelConfig>, boolean]>([
  ['parallel, separate out projections', {}, false],
  ['parallel, fused out_proj, qkv bias, token', { qkvBias: true, pool: 'token' }, true],
  ['sequential, LayerNorm, gap, biases', { block: 'sequential', norm: 'layernorm', normBias: true, qkNormCenter: true, qkvBias: true, pool: 'gap' }, false],
  ['parallel, gap with fc_norm', { pool: 'gap', fcNorm: true }, false],
])('%s: export then import gives our parameters back bit for bit', (_name, over, fuseOutProj) => {
  const c = { ...base, ...over };
  const params = randomParams(c, 7);
  const sd = nativeToTimm(c, params, { fuseOutProj });
  const back = timmToNative(c, sd);
  expect([...back.keys()].sort()).toEqual([...params.keys()].sort());
  for (const [n, v] of params) expect(back.get(n)).toEqual(v);
});

test('timm layouts: conv patch weight, transposed linears, [mlp, q, k, v] in_proj rows', () => {
  const c = base;
  const params = randomParams(c, 3);
  const sd = nativeToTimm(c, params, { fuseOutProj: false });
  const { width: d, mlpDim: f, channels: ch, patchSize: p } = c;
  // conv [o, k, r, s] is our embed/w row (r * p + s) * C + k, column o.
  const conv = sd.get('patch_embed.proj.weight')!;
  expect(conv.shape).toEqual([d, ch, p, p]);
  expect(conv.data[((5 * ch + 2) * p + 1) * p + 3]).toBe(params.get('embed/w')![((1 * p + 3) * ch + 2) * d + 5]);
  // in_proj row f + j (q, k, v) is our column j; row j < f is our column 3D + j.
  const inProj = sd.get('blocks.1.in_proj.weight')!;
  expect(inProj.shape).toEqual([f + 3 * d, d]);
  const ours = params.get('block1/in/w')!;
  expect(inProj.data[(f + 4) * d + 6]).toBe(ours[6 * (3 * d + f) + 4]);
  expect(inProj.data[2 * d + 6]).toBe(ours[6 * (3 * d + f) + 3 * d + 2]);
  // The output bias is one parameter of ours: on attn_out_proj for weights, on both for gradients.
  expect(sd.get('blocks.0.attn_out_proj.bias')!.data).toEqual(params.get('block0/out/b'));
  expect(sd.get('blocks.0.mlp_out_proj.bias')!.data).toEqual(new Float32Array(d));
  const grads = nativeToTimm(c, params, { gradients: true });
  expect(grads.get('blocks.0.mlp_out_proj.bias')!.data).toEqual(params.get('block0/out/b'));
});

test('state dicts with unknown, missing or misshapen tensors are typed errors naming them', () => {
  const sd = nativeToTimm(base, randomParams(base, 1));
  const withExtra = new Map(sd).set('extra.weight', { shape: [8], data: new Float32Array(8) });
  const unknown = thrownBy(() => timmToNative(base, withExtra)) as Vit22bError;
  expect(unknown.code).toBe('ERR_INVALID_ARGUMENT');
  expect(unknown.message).toMatch(/extra\.weight/);

  const missing = new Map(sd);
  missing.delete('blocks.1.mlp_bias');
  const m = thrownBy(() => timmToNative(base, missing)) as Vit22bError;
  expect(m.code).toBe('ERR_INVALID_ARGUMENT');
  expect(m.details.tensor).toBe('blocks.1.mlp_bias');

  const misshapen = new Map(sd).set('head.weight', { shape: [8, 3], data: new Float32Array(24) });
  const s = thrownBy(() => timmToNative(base, misshapen)) as Vit22bError;
  expect(s.code).toBe('ERR_SHAPE_MISMATCH');
  expect(s.details.tensor).toBe('head.weight');
});

test('fcNorm maps final_norm to fc_norm.* (norm.* without it), and needs pool gap', () => {
  const c = validateConfig({ ...base, pool: 'gap', fcNorm: true });
  const sd = nativeToTimm(c, randomParams(c, 2));
  expect(sd.has('fc_norm.weight')).toBe(true);
  expect(sd.has('norm.weight')).toBe(false);
  const e = thrownBy(() => validateConfig({ ...base, fcNorm: true })) as Vit22bError;
  expect([e.code, e.details.field]).toEqual(['ERR_INVALID_CONFIG', 'fcNorm']);
});

/** A state dict of `c` with timm tensors added (and some removed): one refused timm option each. */
test.each<[string, Partial<ModelConfig>, (sd: Map<string, { shape: number[]; data: Float32Array }>) => void]>([
  ['reg_tokens', {}, (sd) => sd.set('reg_token', { shape: [1, 4, 8], data: new Float32Array(32) })],
  ['init_values', {}, (sd) => sd.set('blocks.0.ls1.gamma', { shape: [8], data: new Float32Array(8) })],
  ['init_values', {}, (sd) => sd.set('blocks.0.ls.gamma', { shape: [8], data: new Float32Array(8) })],
  ['pre_norm', {}, (sd) => sd.set('norm_pre.weight', { shape: [8], data: new Float32Array(8) })],
  ['class_token', {}, (sd) => sd.set('cls_token', { shape: [1, 1, 8], data: new Float32Array(8) })],
  ['class_token', { pool: 'gap' }, (sd) => sd.set('cls_token', { shape: [1, 1, 8], data: new Float32Array(8) })],
  ['no_embed_class', { pool: 'token' }, (sd) => sd.set('pos_embed', { shape: [1, 4, 8], data: new Float32Array(32) })],
  ['fc_norm', { pool: 'gap' }, (sd) => { sd.set('fc_norm.weight', sd.get('norm.weight')!); sd.delete('norm.weight'); }],
  ['fc_norm', { pool: 'gap', fcNorm: true }, (sd) => { sd.set('norm.weight', sd.get('fc_norm.weight')!); sd.delete('fc_norm.weight'); }],
])('a timm state dict using %s (unsupported or not configured) is ERR_INVALID_CONFIG naming it', (option, over, edit) => {
  const c = validateConfig({ ...base, ...over });
  const sd = nativeToTimm(c, randomParams(c, 5));
  edit(sd);
  const e = thrownBy(() => timmToNative(c, sd)) as Vit22bError;
  expect(e).toBeInstanceOf(Vit22bError);
  expect([e.code, e.details.field]).toEqual(['ERR_INVALID_CONFIG', option]);
  expect(e.details.expected).toBeDefined();
  expect(e.details.received).toBeDefined();
});

test('foldLayerScale scales the rows (and bias) of attn.proj / mlp.fc2 by gamma and drops gamma; without a target it is ERR_INVALID_CONFIG', async () => {
  const { foldLayerScale } = await import('../../lib/io/timm-layer-scale');
  const c = validateConfig({ ...base, block: 'sequential', norm: 'layernorm', normBias: true, qkNormCenter: true, qkvBias: true, pool: 'gap' });
  const sd = nativeToTimm(c, randomParams(c, 9));
  const gamma = Float32Array.from({ length: 8 }, (_, i) => 0.5 + i);
  sd.set('blocks.1.ls2.gamma', { shape: [8], data: gamma });
  const { sd: out, folded } = foldLayerScale(sd);
  expect(folded).toBe(1);
  expect(out.has('blocks.1.ls2.gamma')).toBe(false);
  const w = sd.get('blocks.1.mlp.fc2.weight')!;
  const fw = out.get('blocks.1.mlp.fc2.weight')!;
  expect(fw.data[3 * 12 + 5]).toBe(Math.fround(w.data[3 * 12 + 5]! * gamma[3]!));
  expect(out.get('blocks.1.mlp.fc2.bias')!.data[7]).toBe(Math.fround(sd.get('blocks.1.mlp.fc2.bias')!.data[7]! * gamma[7]!));
  expect(out.get('blocks.0.mlp.fc2.weight')).toBe(sd.get('blocks.0.mlp.fc2.weight'));
  const lone = new Map(sd);
  lone.delete('blocks.1.mlp.fc2.weight');
  const e = thrownBy(() => foldLayerScale(lone)) as Vit22bError;
  expect([e.code, e.details.field]).toEqual(['ERR_INVALID_CONFIG', 'init_values']);
});
