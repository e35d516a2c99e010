/**
 * Our parameters <-> timm's `VisionTransformer` state dict (names and layouts), both ways.
 *
 * Layouts: torch Linear weights are [out, in], ours [in, out] (transposed); the patch embedding is a
 * conv weight [D, C, p, p] in timm and a dense [p*p*C, D] over patches flattened as (row, col,
 * channel) in ours (lib/kernels/unpatchify.ts PatchifyArgs), so ours = permute(2, 3, 1, 0) then reshape;
 * ParallelScalingBlock fuses in_proj rows as [mlp, q, k, v], our in/w columns are [q, k, v, mlp].
 *
 * Semantics the mapping relies on (checked by timmCompatibility, each a typed error naming the field):
 * - learned position embeddings only (timm has no fixed sin-cos table in its state dict);
 * - timm's nn.LayerNorm always has a bias and RmsNorm none: normBias must be true with layernorm;
 *   timm's QK-norm is the block's norm layer, so qkNormCenter must equal (norm === 'layernorm');
 * - Block: timm ties the attention output and both MLP biases to proj_bias, we tie the attention
 *   output bias to qkvBias and the MLP biases to mlpBias, so qkvBias must equal mlpBias;
 * - ParallelScalingBlock always has an MLP bias (inside in_proj.bias when qkv_bias, else mlp_bias),
 *   so mlpBias must be true; its output biases (proj_bias) are then our out/b. With separate
 *   attn_out_proj and mlp_out_proj their two biases only ever appear summed: import adds them, export
 *   puts the sum on attn_out_proj.bias and zero on mlp_out_proj.bias, and a gradient goes to both
 *   (d/da (a + m) = d/dm (a + m)). The forward and every gradient are exact either way.
 * - global_pool 'avg' in timm applies `fc_norm` after pooling by default (then `norm` is Identity):
 *   our config's fcNorm (pool 'gap') is that; final_norm maps to fc_norm.* with it, to norm.* without.
 * - GELU: timm's nn.GELU is our gelu 'erf' (its 'gelu_tanh' is our 'tanh'): set `gelu` in the config.
 * Not mapped, refused by refusedTimmOption with ERR_INVALID_CONFIG naming timm's option: register
 * tokens (reg_tokens), LayerScale (init_values), norm_pre (pre_norm), a class token with a pooling
 * other than 'token' (class_token), a position embedding without the class token's row
 * (no_embed_class), fc_norm on a model configured without it (fc_norm).
 */
import type { ModelConfig } from '../model/config';
import { sequenceLength } from '../model/params';
import { Vit22bError } from '../runtime/errors';

export interface TimmTensor {
  shape: number[];
  data: Float32Array;
}
export type TimmStateDict = Map<string, TimmTensor>;
/** Our parameters by name (flat f32 in our layouts). */
export type NativeParams = Map<string, Float32Array>;

export interface TimmExportOptions {
  /** Write ParallelScalingBlock's output as one `out_proj` (timm fuse_out_proj=True); default false. */
  fuseOutProj?: boolean;
  /** The values are gradients, not weights: only the split of the summed output bias differs. */
  gradients?: boolean;
}

/** One mapping between a group of timm tensors and a group of ours; both directions are linear. */
interface Rule {
  timm: { name: string; shape: number[] }[];
  native: string[];
  toNative(t: Float32Array[]): Float32Array[];
  toTimm(n: Float32Array[], gradients: boolean): Float32Array[];
}

function incompatible(field: string, message: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', `timm interop: ${message}`, { field, expected, received: String(received) });
}

/** Throws when `c` has no exact timm VisionTransformer counterpart (see the file comment). */
export function timmCompatibility(c: ModelConfig): void {
  if (c.posEmb !== 'learned') throw incompatible('posEmb', 'timm state dicts hold learned position embeddings only', 'learned', c.posEmb);
  if (c.norm === 'layernorm' && !c.normBias) throw incompatible('normBias', "timm's LayerNorm always has a bias", 'true with layernorm', c.normBias);
  if (c.qkNorm && c.qkNormCenter !== (c.norm === 'layernorm')) {
    throw incompatible('qkNormCenter', "timm's QK-norm is the block's norm layer", String(c.norm === 'layernorm'), c.qkNormCenter);
  }
  if (c.block === 'sequential' && c.qkvBias !== c.mlpBias) {
    throw incompatible('mlpBias', "timm's Block ties the attention output bias and the MLP biases (proj_bias); ours ties the first to qkvBias", `equal to qkvBias (${c.qkvBias})`, c.mlpBias);
  }
  if (c.block === 'parallel' && !c.mlpBias) throw incompatible('mlpBias', 'ParallelScalingBlock always has an MLP bias', 'true', c.mlpBias);
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; ++r) for (let k = 0; k < cols; ++k) out[k * rows + r] = a[r * cols + k]!;
  return out;
}

const copy = (a: Float32Array): Float32Array => a.slice();

function same(timmName: string, shape: number[], nativeName: string): Rule {
  return { timm: [{ name: timmName, shape }], native: [nativeName], toNative: ([t]) => [copy(t!)], toTimm: ([n]) => [copy(n!)] };
}

/** torch Linear [out, in] (+ bias [out]) <-> our dense [in, out] (+ b [out]). */
function linear(timmPrefix: string, nativePrefix: string, fanIn: number, fanOut: number, bias: boolean): Rule[] {
  const w: Rule = {
    timm: [{ name: `${timmPrefix}.weight`, shape: [fanOut, fanIn] }],
    native: [`${nativePrefix}/w`],
    toNative: ([t]) => [transpose(t!, fanOut, fanIn)],
    toTimm: ([n]) => [transpose(n!, fanIn, fanOut)],
  };
  return bias ? [w, same(`${timmPrefix}.bias`, [fanOut], `${nativePrefix}/b`)] : [w];
}

function norm(c: ModelConfig, timmPrefix: string, nativePrefix: string, dim: number, center: boolean): Rule[] {
  const rules = [same(`${timmPrefix}.weight`, [dim], `${nativePrefix}/scale`)];
  if (center && c.normBias) rules.push(same(`${timmPrefix}.bias`, [dim], `${nativePrefix}/bias`));
  return rules;
}

/** Conv weight [D, C, p, p] <-> dense [p*p*C, D] with rows (row, col, channel). */
function patchEmbed(c: ModelConfig): Rule {
  const { width: d, channels: ch, patchSize: p } = c;
  const convIndex = (o: number, k: number, r: number, s: number): number => ((o * ch + k) * p + r) * p + s;
  const denseIndex = (o: number, k: number, r: number, s: number): number => ((r * p + s) * ch + k) * d + o;
  const move = (src: Float32Array, toDense: boolean): Float32Array => {
    const out = new Float32Array(src.length);
    for (let o = 0; o < d; ++o) {
      for (let k = 0; k < ch; ++k) {
        for (let r = 0; r < p; ++r) {
          for (let s = 0; s < p; ++s) {
            if (toDense) out[denseIndex(o, k, r, s)] = src[convIndex(o, k, r, s)]!;
            else out[convIndex(o, k, r, s)] = src[denseIndex(o, k, r, s)]!;
          }
        }
      }
    }
    return out;
  };
  return { timm: [{ name: 'patch_embed.proj.weight', shape: [d, ch, p, p] }], native: ['embed/w'], toNative: ([t]) => [move(t!, true)], toTimm: ([n]) => [move(n!, false)] };
}

function sequentialBlock(c: ModelConfig, i: number): Rule[] {
  const t = `blocks.${i}`;
  const n = `block${i}`;
  const { width: d, mlpDim: f } = c;
  const center = c.norm === 'layernorm';
  return [
    ...norm(c, `${t}.norm1`, `${n}/norm1`, d, center),
    ...linear(`${t}.attn.qkv`, `${n}/attn/qkv`, d, 3 * d, c.qkvBias),
    ...qkNorm(c, `${t}.attn`, n),
    ...linear(`${t}.attn.proj`, `${n}/attn/out`, d, d, c.qkvBias),
    ...norm(c, `${t}.norm2`, `${n}/norm2`, d, center),
    ...linear(`${t}.mlp.fc1`, `${n}/mlp/in`, d, f, c.mlpBias),
    ...linear(`${t}.mlp.fc2`, `${n}/mlp/out`, f, d, c.mlpBias),
  ];
}

function qkNorm(c: ModelConfig, timmPrefix: string, nativePrefix: string): Rule[] {
  if (!c.qkNorm) return [];
  const dh = c.width / c.heads;
  return [...norm(c, `${timmPrefix}.q_norm`, `${nativePrefix}/qnorm`, dh, c.qkNormCenter), ...norm(c, `${timmPrefix}.k_norm`, `${nativePrefix}/knorm`, dh, c.qkNormCenter)];
}

/** in_proj [F + 3D, D] rows [mlp, q, k, v] <-> in/w [D, 3D + F] columns [q, k, v, mlp]. */
function parallelIn(c: ModelConfig, t: string, n: string): Rule[] {
  const { width: d, mlpDim: f } = c;
  const rows = f + 3 * d;
  // timm row of our column j.
  const timmRow = (j: number): number => (j < 3 * d ? f + j : j - 3 * d);
  const w: Rule = {
    timm: [{ name: `${t}.in_proj.weight`, shape: [rows, d] }],
    native: [`${n}/in/w`],
    toNative: ([src]) => {
      const out = new Float32Array(rows * d);
      for (let r = 0; r < d; ++r) for (let j = 0; j < rows; ++j) out[r * rows + j] = src![timmRow(j) * d + r]!;
      return [out];
    },
    toTimm: ([src]) => {
      const out = new Float32Array(rows * d);
      for (let r = 0; r < d; ++r) for (let j = 0; j < rows; ++j) out[timmRow(j) * d + r] = src![r * rows + j]!;
      return [out];
    },
  };
  if (!c.qkvBias) return [w, same(`${t}.mlp_bias`, [f], `${n}/in/b_mlp`)];
  const bias: Rule = {
    timm: [{ name: `${t}.in_proj.bias`, shape: [rows] }],
    native: [`${n}/in/b_qkv`, `${n}/in/b_mlp`],
    toNative: ([src]) => [src!.slice(f), src!.slice(0, f)],
    toTimm: ([qkv, mlp]) => {
      const out = new Float32Array(rows);
      out.set(mlp!, 0);
      out.set(qkv!, f);
      return [out];
    },
  };
  return [w, bias];
}

/** Output projection: fused out_proj [D, D + F] ([attn, mlp] columns), or attn_out_proj + mlp_out_proj. */
function parallelOut(c: ModelConfig, t: string, n: string, fused: boolean): Rule[] {
  const { width: d, mlpDim: f } = c;
  if (fused) return linear(`${t}.out_proj`, `${n}/out`, d + f, d, true);
  return [
    {
      timm: [
        { name: `${t}.attn_out_proj.weight`, shape: [d, d] },
        { name: `${t}.mlp_out_proj.weight`, shape: [d, f] },
      ],
      native: [`${n}/out/w`],
      toNative: ([a, m]) => {
        const out = new Float32Array((d + f) * d);
        out.set(transpose(a!, d, d), 0);
        out.set(transpose(m!, d, f), d * d);
        return [out];
      },
      toTimm: ([w]) => [transpose(w!.subarray(0, d * d), d, d), transpose(w!.subarray(d * d), f, d)],
    },
    {
      timm: [
        { name: `${t}.attn_out_proj.bias`, shape: [d] },
        { name: `${t}.mlp_out_proj.bias`, shape: [d] },
      ],
      native: [`${n}/out/b`],
      toNative: ([a, m]) => [a!.map((v, k) => v + m![k]!)],
      // Only the sum is a parameter of ours: put it all on one side; a gradient reaches both.
      toTimm: ([b], gradients) => [copy(b!), gradients ? copy(b!) : new Float32Array(d)],
    },
  ];
}

function parallelBlock(c: ModelConfig, i: number, fusedOut: boolean): Rule[] {
  const t = `blocks.${i}`;
  const n = `block${i}`;
  return [...norm(c, `${t}.in_norm`, `${n}/norm`, c.width, c.norm === 'layernorm'), ...parallelIn(c, t, n), ...qkNorm(c, t, n), ...parallelOut(c, t, n, fusedOut)];
}

function mapHead(c: ModelConfig): Rule[] {
  const d = c.width;
  return [
    same('attn_pool.latent', [1, 1, d], 'map/probe'),
    ...linear('attn_pool.q', 'map/q', d, d, true),
    ...linear('attn_pool.kv', 'map/kv', d, 2 * d, true),
    ...linear('attn_pool.proj', 'map/out', d, d, true),
    ...norm(c, 'attn_pool.norm', 'map/norm', d, c.norm === 'layernorm'),
    ...linear('attn_pool.mlp.fc1', 'map/mlp/in', d, c.mlpDim, true),
    ...linear('attn_pool.mlp.fc2', 'map/mlp/out', c.mlpDim, d, true),
  ];
}

/** Every rule for the model, in timm's state-dict order. */
function rules(c: ModelConfig, fusedOut: boolean): Rule[] {
  timmCompatibility(c);
  const d = c.width;
  const out: Rule[] = [];
  if (c.pool === 'token') out.push(same('cls_token', [1, 1, d], 'cls'));
  out.push(same('pos_embed', [1, sequenceLength(c), d], 'pos'));
  out.push(patchEmbed(c), same('patch_embed.proj.bias', [d], 'embed/b'));
  for (let i = 0; i < c.depth; ++i) out.push(...(c.block === 'parallel' ? parallelBlock(c, i, fusedOut) : sequentialBlock(c, i)));
  out.push(...norm(c, c.fcNorm ? 'fc_norm' : 'norm', 'final_norm', d, c.norm === 'layernorm'));
  if (c.pool === 'map') out.push(...mapHead(c));
  out.push(...linear('head', 'head', d, c.numClasses, true));
  return out;
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Whether a timm state dict uses ParallelScalingBlock's fused out_proj. */
export function usesFusedOutProj(sd: TimmStateDict): boolean {
  return [...sd.keys()].some((k) => /^blocks\.\d+\.out_proj\.weight$/.test(k));
}

/** timm state dict -> our parameters; every name must be known and present, every shape exact. */
export function timmToNative(c: ModelConfig, sd: TimmStateDict): NativeParams {
  const all = rules(c, usesFusedOutProj(sd));
  refusedTimmOption(c, sd);
  const expected = new Set(all.flatMap((r) => r.timm.map((t) => t.name)));
  const unexpected = [...sd.keys()].filter((k) => !expected.has(k));
  if (unexpected.length) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `timm interop: tensors this model has no place for: ${unexpected.slice(0, 8).join(', ')}`, {
      expected: 'names of the configured model',
      received: unexpected.join(', '),
    });
  }
  const out: NativeParams = new Map();
  for (const r of all) {
    const src = r.timm.map(({ name, shape }) => {
      const t = sd.get(name);
      if (!t) throw new Vit22bError('ERR_INVALID_ARGUMENT', `timm interop: the state dict lacks ${name}`, { expected: name, received: 'missing', tensor: name });
      if (t.shape.length !== shape.length || t.shape.some((v, k) => v !== shape[k]) || t.data.length !== numel(shape)) {
        throw new Vit22bError('ERR_SHAPE_MISMATCH', `timm interop: ${name} has the wrong shape`, { expected: JSON.stringify(shape), received: JSON.stringify(t.shape), tensor: name });
      }
      return t.data;
    });
    r.toNative(src).forEach((v, k) => out.set(r.native[k]!, v));
  }
  return out;
}

/**
 * timm VisionTransformer options a state dict shows and that we do not implement (or that the config
 * does not ask for): ERR_INVALID_CONFIG naming timm's option, before any name-by-name complaint, so
 * the user learns which model this is rather than which tensor is extra.
 */
export function refusedTimmOption(c: ModelConfig, sd: TimmStateDict): void {
  const names = [...sd.keys()];
  const refuse = (option: string, message: string, expected: string, received: string): never => {
    throw new Vit22bError('ERR_INVALID_CONFIG', `timm interop: ${message}`, { field: option, option, expected, received });
  };
  const reg = sd.get('reg_token');
  if (reg) refuse('reg_tokens', 'register tokens (reg_tokens) are not supported', 'reg_tokens=0', `reg_tokens=${reg.shape[1] ?? '?'}`);
  const ls = names.find((n) => /^blocks\.\d+\.ls[12]?\.gamma$/.test(n));
  if (ls) refuse('init_values', 'LayerScale (init_values) has no parameter of ours (train --init and predict fold it into the projections: foldLayerScale)', 'init_values=None', ls);
  const pre = names.find((n) => n.startsWith('norm_pre.'));
  if (pre) refuse('pre_norm', 'a norm before the blocks (pre_norm=True, CLIP-style) is not supported', 'pre_norm=False', pre);
  const cls = sd.get('cls_token');
  if (cls && c.pool !== 'token') {
    refuse('class_token', `a class token is only supported with pool 'token' (timm global_pool='token'); this model pools by '${c.pool}'`, "class_token=False, or global_pool='token'", `class_token=True with pool '${c.pool}'`);
  }
  const pos = sd.get('pos_embed');
  if (cls && pos && pos.shape[1] === sequenceLength(c) - 1) {
    refuse('no_embed_class', 'position embeddings without a row for the class token (no_embed_class=True) are not supported', `pos_embed [1, ${sequenceLength(c)}, D]`, JSON.stringify(pos.shape));
  }
  const fc = names.find((n) => n.startsWith('fc_norm.'));
  if (fc && !c.fcNorm) refuse('fc_norm', 'the state dict normalizes after pooling (fc_norm): set "fcNorm": true (with pool \'gap\') in the config', 'fcNorm: true', 'fcNorm: false');
  if (!fc && c.fcNorm && names.some((n) => n.startsWith('norm.'))) refuse('fc_norm', 'the config has fcNorm but the state dict normalizes before pooling (norm.*, fc_norm=False)', 'fcNorm: false', 'fcNorm: true');
}

/** Our parameters (or their gradients) -> a timm state dict under timm's names and layouts. */
export function nativeToTimm(c: ModelConfig, params: NativeParams, options: TimmExportOptions = {}): TimmStateDict {
  const out: TimmStateDict = new Map();
  for (const r of rules(c, options.fuseOutProj ?? false)) {
    const src = r.native.map((name) => {
      const v = params.get(name);
      if (!v) throw new Vit22bError('ERR_INVALID_ARGUMENT', `timm interop: no value for our parameter ${name}`, { expected: name, received: 'missing', tensor: name });
      return v;
    });
    const converted = r.toTimm(src, options.gradients ?? false);
    r.timm.forEach(({ name, shape }, k) => {
      if (converted[k]!.length !== numel(shape)) {
        throw new Vit22bError('ERR_SHAPE_MISMATCH', `timm interop: our value for ${name} has ${converted[k]!.length} elements`, { expected: String(numel(shape)), received: String(converted[k]!.length), tensor: name });
      }
      out.set(name, { shape, data: converted[k]! });
    });
  }
  return out;
}
