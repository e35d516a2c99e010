/**
 * The ViT graph: patch embedding, position embedding, parallel (ViT-22B) or sequential blocks, the
 * final norm, MAP / GAP / class-token pooling, the classifier and the loss.
 *
 * Parallel block (ViT-22B):   h = norm(x)
 *   z = h @ W_in [D, 3D + F]          one GEMM for Q, K, V and the MLP input
 *   q, k, v, m = split(z)             (QK-norm on q and k per head; bias and GELU on m)
 *   x = x + [attention(q, k, v), gelu(m)] @ W_out [D + F, D] (+ b)   one GEMM for both outputs
 * Parameters come from paramSpecs (params.ts), so what is built is what countParams counts.
 */
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import { Vit22bError } from '../runtime/errors';
import { DEFAULT_GELU, DEFAULT_NORM_EPS, type ModelConfig } from './config';
import { paramSpecs, sequenceLength, type ParamSpec } from './params';
import { sincos2d } from './sincos';

export interface VitBuildOptions {
  batch: number;
  /** 'softmax' (labels i32 [B]) or 'sigmoid' (multi-label targets f32 [B, C] as input `targets`). */
  loss?: 'softmax' | 'sigmoid';
  labelSmoothing?: number;
  /** Also output the logits (evaluation, prediction). */
  logits?: boolean;
  /** Output the pooled pre-logits features [B, D] as `features` (linear probes, few-shot). */
  features?: boolean;
  /**
   * Output f32 [2] `attention_stats/block<i>` per block: the largest attention logit and the mean
   * attention entropy (after QK-norm, with the attention's own scale). Monitoring only.
   */
  attentionStats?: boolean;
}

/** Creates parameters by name from the spec list, and checks every spec was used. */
class Params {
  private readonly specs: Map<string, ParamSpec>;
  private readonly used = new Set<string>();
  /** Carried here so every norm of the model uses the config's epsilon. */
  readonly normEps: number;
  constructor(
    private readonly b: GraphBuilder,
    config: ModelConfig,
  ) {
    this.specs = new Map(paramSpecs(config).map((s) => [s.name, s]));
    this.normEps = config.normEps ?? DEFAULT_NORM_EPS;
  }
  get(name: string): Value {
    const s = this.specs.get(name);
    if (!s) throw new Vit22bError('ERR_INTERNAL', `the ViT builder asked for a parameter with no spec: ${name}`, { expected: 'a name from paramSpecs', received: name });
    this.used.add(name);
    return this.b.param(name, s.shape, { init: s.init, ...(s.sharding ? { sharding: s.sharding } : {}) });
  }
  has(name: string): boolean {
    return this.specs.has(name);
  }
  checkAllUsed(): void {
    const unused = [...this.specs.keys()].filter((n) => !this.used.has(n));
    if (unused.length) throw new Vit22bError('ERR_INTERNAL', 'parameter specs the ViT builder did not use', { expected: 'none', received: unused.join(', ') });
  }
}

function norm(b: GraphBuilder, p: Params, prefix: string, x: Value, center: boolean): Value {
  const scale = p.get(`${prefix}/scale`);
  const eps = p.normEps;
  if (!center) return b.rmsNorm(x, scale, { eps });
  return b.layerNorm(x, scale, p.has(`${prefix}/bias`) ? p.get(`${prefix}/bias`) : undefined, { eps });
}

function gelu(b: GraphBuilder, c: ModelConfig, x: Value): Value {
  return b.gelu(x, c.gelu ?? DEFAULT_GELU);
}

function dense(b: GraphBuilder, p: Params, name: string, x: Value): Value {
  return b.dense(x, p.get(`${name}/w`), p.has(`${name}/b`) ? p.get(`${name}/b`) : undefined);
}

/** Per-head QK normalization: [B, T, D] seen as rows of the head width. */
function qkNorm(b: GraphBuilder, p: Params, c: ModelConfig, prefix: string, t: Value): Value {
  if (!c.qkNorm) return t;
  const [batch, tokens, d] = t.shape as [number, number, number];
  const rows = b.reshape(t, [batch, tokens, c.heads, d / c.heads]);
  return b.reshape(norm(b, p, prefix, rows, c.qkNormCenter), [batch, tokens, d]);
}

/** The attention_stats output of block i, when asked for. */
function monitorAttention(b: GraphBuilder, c: ModelConfig, i: number, q: Value, k: Value, on: boolean): void {
  if (on) b.output(`attention_stats/block${i}`, b.attentionStats(q, k, { heads: c.heads }));
}

function parallelBlock(b: GraphBuilder, p: Params, c: ModelConfig, i: number, x: Value, stats: boolean): Value {
  const pre = `block${i}`;
  const d = c.width;
  const f = c.mlpDim;
  const h = norm(b, p, `${pre}/norm`, x, c.norm === 'layernorm');
  const z = b.matmul(h, p.get(`${pre}/in/w`)); // [B, T, 3D + F]
  // Without a QKV bias, q, k and v are cut straight out of z (one copy each, and their gradients
  // join into dz as one concatenation).
  const qkv = c.qkvBias ? b.biasAdd(b.slice(z, 2, 0, 3 * d), p.get(`${pre}/in/b_qkv`)) : z;
  let m = b.slice(z, 2, 3 * d, 3 * d + f);
  if (c.mlpBias) m = b.biasAdd(m, p.get(`${pre}/in/b_mlp`));
  const q = qkNorm(b, p, c, `${pre}/qnorm`, b.slice(qkv, 2, 0, d));
  const k = qkNorm(b, p, c, `${pre}/knorm`, b.slice(qkv, 2, d, 2 * d));
  const v = b.slice(qkv, 2, 2 * d, 3 * d);
  monitorAttention(b, c, i, q, k, stats);
  const attn = b.attention(q, k, v, { heads: c.heads });
  const both = b.concat([attn, gelu(b, c, m)], 2); // [B, T, D + F]
  let out = b.matmul(both, p.get(`${pre}/out/w`));
  if (c.mlpBias) out = b.biasAdd(out, p.get(`${pre}/out/b`));
  return b.add(x, out);
}

function sequentialBlock(b: GraphBuilder, p: Params, c: ModelConfig, i: number, x: Value, stats: boolean): Value {
  const pre = `block${i}`;
  const d = c.width;
  const center = c.norm === 'layernorm';
  const qkv = dense(b, p, `${pre}/attn/qkv`, norm(b, p, `${pre}/norm1`, x, center));
  const q = qkNorm(b, p, c, `${pre}/qnorm`, b.slice(qkv, 2, 0, d));
  const k = qkNorm(b, p, c, `${pre}/knorm`, b.slice(qkv, 2, d, 2 * d));
  const v = b.slice(qkv, 2, 2 * d, 3 * d);
  monitorAttention(b, c, i, q, k, stats);
  const y = b.add(x, dense(b, p, `${pre}/attn/out`, b.attention(q, k, v, { heads: c.heads })));
  const m = gelu(b, c, dense(b, p, `${pre}/mlp/in`, norm(b, p, `${pre}/norm2`, y, center)));
  return b.add(y, dense(b, p, `${pre}/mlp/out`, m));
}

/** MAP head: a learned probe attends to the tokens, then y + MLP(LN(y)); returns [B, D]. */
function mapPool(b: GraphBuilder, p: Params, c: ModelConfig, x: Value): Value {
  const [batch, , d] = x.shape as [number, number, number];
  const probe = b.broadcastBatch(b.compute(p.get('map/probe')), batch); // [B, 1, D]
  const q = dense(b, p, 'map/q', probe);
  const kv = dense(b, p, 'map/kv', x);
  const a = b.attention(q, b.slice(kv, 2, 0, d), b.slice(kv, 2, d, 2 * d), { heads: c.heads });
  const y = dense(b, p, 'map/out', a);
  const mlp = dense(b, p, 'map/mlp/out', gelu(b, c, dense(b, p, 'map/mlp/in', norm(b, p, 'map/norm', y, c.norm === 'layernorm'))));
  return b.reshape(b.add(y, mlp), [batch, d]);
}

/** Builds the whole model and loss into `b`: inputs `images` [B, H, W, C] and `labels` [B]. */
export function buildVit(b: GraphBuilder, c: ModelConfig, o: VitBuildOptions): void {
  const p = new Params(b, c);
  const batch = o.batch;
  const images = b.input('images', [batch, c.imageSize, c.imageSize, c.channels]);
  const labels = b.input('labels', [batch], 'i32');
  let x = b.scope('embed', () => {
    const patches = b.patchify(images, c.patchSize); // [B, T, p*p*C]
    let t = dense(b, p, 'embed', patches);
    if (c.pool === 'token') t = b.concat([b.broadcastBatch(b.compute(p.get('cls')), batch), t], 1); // [B, T + 1, D]
    if (c.posEmb === 'learned') return b.addPositionEmbedding(t, p.get('pos'));
    // Fixed sin-cos embeddings for the patch grid; a class token gets none (zeros).
    const g = c.imageSize / c.patchSize;
    const grid = sincos2d(g, g, c.width);
    const table = new Float32Array(sequenceLength(c) * c.width);
    table.set(grid, table.length - grid.length);
    return b.addPositionEmbedding(t, b.constantData([sequenceLength(c), c.width], table));
  });
  for (let i = 0; i < c.depth; ++i) {
    const input = b.checkpoint(x);
    x = b.scope(`block${i}`, () => (c.block === 'parallel' ? parallelBlock : sequentialBlock)(b, p, c, i, input, !!o.attentionStats));
  }
  const pooled = b.scope('head', () => {
    // timm's fc_norm: the final norm moves after average pooling (a different function, not a reordering).
    if (c.fcNorm) return norm(b, p, 'final_norm', b.meanPool(x), c.norm === 'layernorm');
    const y = norm(b, p, 'final_norm', x, c.norm === 'layernorm');
    if (c.pool === 'gap') return b.meanPool(y);
    if (c.pool === 'token') return b.reshape(b.slice(y, 1, 0, 1), [batch, c.width]);
    return mapPool(b, p, c, y);
  });
  const logits = b.scope('head', () => dense(b, p, 'head', pooled));
  p.checkAllUsed();
  if (o.features) b.output('features', pooled);
  if (o.logits) b.output('logits', logits);
  if ((o.loss ?? 'softmax') === 'softmax') {
    b.output('loss', b.softmaxCrossEntropy(logits, labels, { smoothing: o.labelSmoothing ?? 0 }));
  } else {
    const targets = b.input('targets', [batch, c.numClasses]);
    b.output('loss', b.sigmoidCrossEntropy(logits, targets, { smoothing: o.labelSmoothing ?? 0 }));
  }
  b.output('accuracy', b.topkAccuracy(logits, labels, Math.min(5, c.numClasses)));
}
