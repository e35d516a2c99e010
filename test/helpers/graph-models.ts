/**
 * Small models written with the graph builder, for the compiler's tests: an MLP classifier and a
 * ViT-22B-style parallel transformer block (RMSNorm, QK-norm, attention and MLP side by side from
 * one normalized input, both added to the residual) with a mean-pool head.
 */
import type { GraphBuilder } from '../../lib/graph/builder';
import type { Value } from '../../lib/graph/ir';

const normal = (std: number) => ({ dist: 'normal' as const, std });

export interface MlpOptions {
  batch: number;
  features: number;
  hidden: number;
  classes: number;
  /** Hidden layers. */
  depth: number;
}

export function mlp(b: GraphBuilder, o: MlpOptions): void {
  let h: Value = b.compute(b.input('x', [o.batch, o.features]));
  let width = o.features;
  for (let i = 0; i < o.depth; ++i) {
    h = b.scope(`layer${i}`, () => {
      const w = b.param(`layer${i}/w`, [width, o.hidden], { init: normal(1 / Math.sqrt(width)) });
      const bias = b.param(`layer${i}/b`, [o.hidden]);
      return b.gelu(b.dense(h, w, bias));
    });
    width = o.hidden;
  }
  const logits = b.dense(h, b.param('head/w', [width, o.classes], { init: normal(1 / Math.sqrt(width)) }), b.param('head/b', [o.classes]));
  const labels = b.input('labels', [o.batch], 'i32');
  b.output('loss', b.softmaxCrossEntropy(logits, labels));
  b.output('accuracy', b.topkAccuracy(logits, labels, 1));
}

export interface BlockOptions {
  batch: number;
  tokens: number;
  width: number;
  heads: number;
  mlp: number;
  classes: number;
  depth: number;
}

/** One parallel block: y = x + Wo attn(qknorm(Wq h), qknorm(Wk h), Wv h) + W2 gelu(W1 h + b1). */
export function parallelBlock(b: GraphBuilder, x: Value, o: BlockOptions, name: string): Value {
  return b.scope(name, () => {
    const d = o.width;
    const dh = d / o.heads;
    const w = (n: string, shape: number[]) => b.param(`${name}/${n}`, shape, { init: normal(1 / Math.sqrt(shape[0]!)) });
    const ones = { init: { dist: 'constant' as const, value: 1 } };
    b.checkpoint(x);
    const h = b.rmsNorm(x, b.param(`${name}/norm`, [d], ones));
    const qkNorm = (t: Value, n: string) => {
      const rows = b.reshape(t, [o.batch, o.tokens, o.heads, dh]);
      return b.reshape(b.rmsNorm(rows, b.param(`${name}/${n}`, [dh], ones)), [o.batch, o.tokens, d]);
    };
    const q = qkNorm(b.matmul(h, w('wq', [d, d])), 'qnorm');
    const k = qkNorm(b.matmul(h, w('wk', [d, d])), 'knorm');
    const v = b.matmul(h, w('wv', [d, d]));
    const attn = b.matmul(b.attention(q, k, v, { heads: o.heads }), w('wo', [d, d]));
    const m = b.gelu(b.dense(h, w('w1', [d, o.mlp]), b.param(`${name}/b1`, [o.mlp])));
    const mlpOut = b.matmul(m, w('w2', [o.mlp, d]));
    return b.add(b.add(x, attn), mlpOut);
  });
}

/** Token inputs [B, T, D] through `depth` parallel blocks, mean-pooled, to a classifier. */
export function transformer(b: GraphBuilder, o: BlockOptions): void {
  // The model input enters in the compute dtype (bf16 under 'bf16-mixed').
  let x = b.compute(b.input('x', [o.batch, o.tokens, o.width]));
  x = b.addPositionEmbedding(x, b.param('pos', [o.tokens, o.width], { init: normal(0.02) }));
  for (let i = 0; i < o.depth; ++i) x = parallelBlock(b, x, o, `block${i}`);
  const pooled = b.rmsNorm(b.meanPool(x), b.param('final_norm', [o.width], { init: { dist: 'constant', value: 1 } }));
  const logits = b.dense(pooled, b.param('head/w', [o.width, o.classes], { init: normal(0.02) }), b.param('head/b', [o.classes]));
  const labels = b.input('labels', [o.batch], 'i32');
  b.output('loss', b.softmaxCrossEntropy(logits, labels));
  b.output('accuracy', b.topkAccuracy(logits, labels, 1));
}
