/**
 * The API models are written in: typed methods over Graph.add, names for the leaves, scopes for
 * blocks, and the precision policy in one place. With precision 'bf16-mixed' parameters stay f32
 * master weights, matmul weights are cast to bf16 where they are used, the model input is cast to
 * bf16 on entry, and activations stay bf16; norms and bias adds read f32 parameters directly, and
 * losses are computed in f32 from bf16 logits. 'fp32' is f32 end to end.
 */
import { Vit22bError } from '../runtime/errors';
import { Graph, type Value } from './ir';
import type { InitSpec } from './ops/leaf';
import type { GeluForm } from './ops/gelu';
import type { DType, Shape, Sharding } from './types';

export type Precision = 'fp32' | 'bf16-mixed';

export interface ParamOptions {
  init?: InitSpec;
  dtype?: DType;
  /** Per dimension, the mesh axis that splits it (passes/partition.ts; segments allowed). */
  sharding?: Sharding;
}

export class GraphBuilder {
  readonly graph = new Graph();
  readonly precision: Precision;
  private readonly names = new Set<string>();

  constructor(options: { precision?: Precision } = {}) {
    const p = options.precision ?? 'fp32';
    if (p !== 'fp32' && p !== 'bf16-mixed') {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', "precision must be 'fp32' or 'bf16-mixed'", {
        expected: 'fp32 | bf16-mixed',
        received: String(p),
      });
    }
    this.precision = p;
    this.graph.precision = p;
  }

  /** The storage type of activations under the precision policy. */
  get computeDType(): DType {
    return this.precision === 'bf16-mixed' ? 'bf16' : 'f32';
  }

  private leaf(kind: 'input' | 'param' | 'state', name: string, shape: Shape, dtype: DType, init?: InitSpec, sharding?: Sharding): Value {
    if (typeof name !== 'string' || name === '' || this.names.has(name)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `${kind} names must be unique non-empty strings`, {
        expected: 'a new name',
        received: JSON.stringify(name),
      });
    }
    this.names.add(name);
    return this.graph.apply(kind, [], { name, shape, dtype, ...(init ? { init } : {}), ...(sharding ? { sharding } : {}) });
  }

  /** Data fed by each run (images, labels). */
  input(name: string, shape: Shape, dtype: DType = 'f32'): Value {
    return this.leaf('input', name, shape, dtype);
  }

  /** A trainable parameter (f32 master weights unless dtype says otherwise). */
  param(name: string, shape: Shape, options: ParamOptions = {}): Value {
    return this.leaf('param', name, shape, options.dtype ?? 'f32', options.init ?? { dist: 'constant', value: 0 }, options.sharding);
  }

  /** Persistent, not trained (zero-initialized unless told). */
  state(name: string, shape: Shape, options: ParamOptions = {}): Value {
    return this.leaf('state', name, shape, options.dtype ?? 'f32', options.init ?? { dist: 'constant', value: 0 });
  }

  constant(shape: Shape, value: number, dtype: DType = 'f32'): Value {
    return this.graph.apply('const', [], { name: '', shape, dtype, value });
  }

  /** A constant tensor of host values (f32), uploaded once when the program is compiled. */
  constantData(shape: Shape, values: Float32Array): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    if (!(values instanceof Float32Array) || values.length !== n) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', `constantData of shape [${shape.join(', ')}] needs ${n} f32 values`, {
        expected: `Float32Array(${n})`,
        received: values instanceof Float32Array ? `Float32Array(${values.length})` : typeof values,
      });
    }
    return this.graph.apply('const', [], { name: '', shape, dtype: 'f32', data: values });
  }

  /** Runs `fn` with nodes tagged by `name` (a block: what block rematerialization recomputes). */
  scope<T>(name: string, fn: () => T): T {
    const saved = this.graph.scope;
    this.graph.scope = saved ? `${saved}/${name}` : name;
    try {
      return fn();
    } finally {
      this.graph.scope = saved;
    }
  }

  /** Marks `v` as kept by block rematerialization (a block's input). */
  checkpoint(v: Value): Value {
    v.checkpoint = true;
    return v;
  }

  /** `v` in the compute dtype (a cast where the policy asks for one). */
  compute(v: Value): Value {
    return v.dtype === this.computeDType || v.dtype === 'i32' ? v : this.cast(v, this.computeDType);
  }

  cast(x: Value, dtype: DType): Value {
    return x.dtype === dtype ? x : this.graph.apply('cast', [x], { dtype });
  }

  matmul(a: Value, b: Value, options: { transA?: boolean; transB?: boolean } = {}): Value {
    return this.graph.apply('matmul', [this.compute(a), this.compute(b)], options);
  }

  /** x @ w (+ bias): the fusion pass turns this into one GEMM with a bias epilogue. */
  dense(x: Value, w: Value, bias?: Value): Value {
    const y = this.matmul(x, w);
    return bias ? this.biasAdd(y, bias) : y;
  }

  biasAdd(x: Value, bias: Value): Value {
    return this.graph.apply('bias_add', [x, bias]);
  }

  add(a: Value, b: Value): Value {
    return this.graph.apply('add', [a, b]);
  }

  scale(x: Value, factor: number): Value {
    return this.graph.apply('scale', [x], { factor });
  }

  reshape(x: Value, shape: Shape): Value {
    return this.graph.apply('reshape', [x], { shape });
  }

  gelu(x: Value, form: GeluForm = 'tanh'): Value {
    return this.graph.apply('gelu', [x], { form });
  }

  layerNorm(x: Value, scale: Value, bias?: Value, options: { eps?: number } = {}): Value {
    const inputs = bias ? [x, scale, bias] : [x, scale];
    return this.graph.apply('layer_norm', inputs, { center: true, hasBias: !!bias, eps: options.eps ?? 1e-6 });
  }

  /** RMSNorm: no centering, no bias (the ViT-22B norms). */
  rmsNorm(x: Value, scale: Value, options: { eps?: number } = {}): Value {
    return this.graph.apply('layer_norm', [x, scale], { center: false, hasBias: false, eps: options.eps ?? 1e-6 });
  }

  attention(q: Value, k: Value, v: Value, options: { heads: number; scale?: number }): Value {
    return this.graph.apply('attention', [q, k, v], options);
  }

  /**
   * f32 [2]: the largest attention logit and the mean attention entropy that attention(q, k, ...)
   * with the same heads and scale would have. Monitoring only (no gradient).
   */
  attentionStats(q: Value, k: Value, options: { heads: number; scale?: number }): Value {
    return this.graph.apply('attention_stats', [q, k], options);
  }

  /** Mean softmax cross-entropy in f32 (logits of any storage type). */
  softmaxCrossEntropy(logits: Value, labels: Value, options: { smoothing?: number } = {}): Value {
    return this.graph.apply('softmax_xent', [logits, labels], { smoothing: options.smoothing ?? 0 });
  }

  sigmoidCrossEntropy(logits: Value, targets: Value, options: { smoothing?: number } = {}): Value {
    return this.graph.apply('sigmoid_xent', [logits, targets], { smoothing: options.smoothing ?? 0 });
  }

  topkAccuracy(logits: Value, labels: Value, k = 5): Value {
    return this.graph.apply('topk_accuracy', [logits, labels], { k });
  }

  meanPool(x: Value): Value {
    return this.graph.apply('mean_pool', [x]);
  }

  patchify(images: Value, patch: number): Value {
    return this.graph.apply('patchify', [this.compute(images)], { patch });
  }

  addPositionEmbedding(x: Value, pos: Value): Value {
    return this.graph.apply('pos_embed_add', [x, pos]);
  }

  /** Elements [begin, end) of x along `axis`. */
  slice(x: Value, axis: number, begin: number, end: number): Value {
    return this.graph.apply('slice', [x], { axis, begin, end });
  }

  /** The values joined along `axis`. */
  concat(xs: Value[], axis: number): Value {
    return this.graph.apply('concat', xs, { axis });
  }

  /** [batch, ...x.shape]: x repeated for every example. */
  broadcastBatch(x: Value, batch: number): Value {
    return this.graph.apply('broadcast_batch', [x], { batch });
  }

  /** A named program output, read back after each run. */
  output(name: string, v: Value): Value {
    this.graph.setOutput(name, v);
    return v;
  }
}
