/**
 * The parameters of a ViT as specs (name, shape, initializer, role): ONE list that the graph
 * builder (vit.ts) creates its parameters from and that countParams sums, so the reported counts are
 * those of the model that is built. Initializers follow big_vision: Xavier-uniform dense kernels,
 * LeCun-normal patch embedding, N(0, 0.02) position embeddings, zero biases, unit norm scales, a
 * zero classifier kernel and its bias at headBiasInit.
 */
import type { InitSpec } from '../graph/ops/leaf';
import type { ShardingSpec } from '../graph/sharding';
import { tokensOf, type ModelConfig } from './config';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitSpec;
  /** The dense block matrices the paper counts (Q, K, V, O, MLP in and out). */
  blockMatrix: boolean;
  /**
   * How a `model` mesh axis splits it (absent: every device holds it whole). The block matrices are
   * split the Megatron / ViT-22B way: projections into heads and MLP columns by columns, the
   * projections back by rows, fused ones in segments so each device holds its heads of q, k and v
   * and its MLP columns.
   */
  sharding?: ShardingSpec;
}

/** Columns split over model, in segments of these global sizes. */
const cols = (...segments: number[]): ShardingSpec => [null, { axis: 'model', segments }];
/** Rows split over model, in segments of these global sizes. */
const rows = (...segments: number[]): ShardingSpec => [{ axis: 'model', segments }, null];
const vector = (...segments: number[]): ShardingSpec => [{ axis: 'model', segments }];

const zeros: InitSpec = { dist: 'constant', value: 0 };
const ones: InitSpec = { dist: 'constant', value: 1 };
const xavier = (fanIn: number, fanOut: number): InitSpec => {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return { dist: 'uniform', lo: -limit, hi: limit };
};

function normSpecs(c: ModelConfig, prefix: string, dim: number, center: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: `${prefix}/scale`, shape: [dim], init: ones, blockMatrix: false }];
  if (center && c.normBias) specs.push({ name: `${prefix}/bias`, shape: [dim], init: zeros, blockMatrix: false });
  return specs;
}

/** A dense layer; `split` 'cols' (into heads / MLP columns, the bias too) or 'rows' (back to the stream). */
function dense(name: string, fanIn: number, fanOut: number, bias: boolean, blockMatrix: boolean, split?: { cols: number[] } | 'rows'): ParamSpec[] {
  const w: ParamSpec = { name: `${name}/w`, shape: [fanIn, fanOut], init: xavier(fanIn, fanOut), blockMatrix };
  if (split === 'rows') w.sharding = rows(fanIn);
  else if (split) w.sharding = cols(...split.cols);
  const specs: ParamSpec[] = [w];
  if (bias) specs.push({ name: `${name}/b`, shape: [fanOut], init: zeros, blockMatrix: false, ...(split && split !== 'rows' ? { sharding: vector(...split.cols) } : {}) });
  return specs;
}

function blockSpecs(c: ModelConfig, i: number): ParamSpec[] {
  const p = `block${i}`;
  const d = c.width;
  const f = c.mlpDim;
  const dh = d / c.heads;
  const center = c.norm === 'layernorm';
  const qk: ParamSpec[] = c.qkNorm ? [...normSpecs(c, `${p}/qnorm`, dh, c.qkNormCenter), ...normSpecs(c, `${p}/knorm`, dh, c.qkNormCenter)] : [];
  if (c.block === 'parallel') {
    // The fused projections: D -> 3D + F in, (D + F) -> D out (ViT-22B section 2).
    const inW: ParamSpec = { name: `${p}/in/w`, shape: [d, 3 * d + f], init: xavier(d, 3 * d + f), blockMatrix: true, sharding: cols(d, d, d, f) };
    return [
      ...normSpecs(c, `${p}/norm`, d, center),
      inW,
      ...(c.qkvBias ? [{ name: `${p}/in/b_qkv`, shape: [3 * d], init: zeros, blockMatrix: false, sharding: vector(d, d, d) }] : []),
      ...(c.mlpBias ? [{ name: `${p}/in/b_mlp`, shape: [f], init: zeros, blockMatrix: false, sharding: vector(f) }] : []),
      ...qk,
      { name: `${p}/out/w`, shape: [d + f, d], init: xavier(d + f, d), blockMatrix: true, sharding: rows(d, f) },
      ...(c.mlpBias ? [{ name: `${p}/out/b`, shape: [d], init: zeros, blockMatrix: false }] : []),
    ];
  }
  return [
    ...normSpecs(c, `${p}/norm1`, d, center),
    ...dense(`${p}/attn/qkv`, d, 3 * d, c.qkvBias, true, { cols: [d, d, d] }),
    ...qk,
    ...dense(`${p}/attn/out`, d, d, c.qkvBias, true, 'rows'),
    ...normSpecs(c, `${p}/norm2`, d, center),
    ...dense(`${p}/mlp/in`, d, f, c.mlpBias, true, { cols: [f] }),
    ...dense(`${p}/mlp/out`, f, d, c.mlpBias, true, 'rows'),
  ];
}

function headSpecs(c: ModelConfig): ParamSpec[] {
  const d = c.width;
  const pool: ParamSpec[] = [];
  if (c.pool === 'map') {
    // Multi-head attention pooling: a learned probe attends to the tokens, then x + MLP(LN(x)).
    pool.push(
      { name: 'map/probe', shape: [1, d], init: xavier(1, d), blockMatrix: false },
      ...dense('map/q', d, d, true, false),
      ...dense('map/kv', d, 2 * d, true, false),
      ...dense('map/out', d, d, true, false),
      ...normSpecs(c, 'map/norm', d, c.norm === 'layernorm'),
      ...dense('map/mlp/in', d, c.mlpDim, true, false),
      ...dense('map/mlp/out', c.mlpDim, d, true, false),
    );
  }
  return [
    ...pool,
    { name: 'head/w', shape: [d, c.numClasses], init: zeros, blockMatrix: false },
    { name: 'head/b', shape: [c.numClasses], init: { dist: 'constant', value: c.headBiasInit }, blockMatrix: false },
  ];
}

/** Tokens the blocks see: the patches, plus the class token when pooling by it. */
export function sequenceLength(c: ModelConfig): number {
  return tokensOf(c) + (c.pool === 'token' ? 1 : 0);
}

/** Every parameter of the model, in build order. */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const patch = c.patchSize * c.patchSize * c.channels;
  const specs: ParamSpec[] = [
    { name: 'embed/w', shape: [patch, c.width], init: { dist: 'normal', std: Math.sqrt(1 / patch) }, blockMatrix: false },
    { name: 'embed/b', shape: [c.width], init: zeros, blockMatrix: false },
  ];
  // With a class token the position embedding covers it too (the original ViT and timm layout).
  if (c.pool === 'token') specs.push({ name: 'cls', shape: [1, c.width], init: zeros, blockMatrix: false });
  if (c.posEmb === 'learned') specs.push({ name: 'pos', shape: [sequenceLength(c), c.width], init: { dist: 'normal', std: 0.02 }, blockMatrix: false });
  for (let i = 0; i < c.depth; ++i) specs.push(...blockSpecs(c, i));
  specs.push(...normSpecs(c, 'final_norm', c.width, c.norm === 'layernorm'));
  specs.push(...headSpecs(c));
  return specs;
}

export interface ParamCounts {
  /** The dense block matrices only: what the paper's 21,743,271,936 counts. */
  blockMatrices: number;
  /** Every parameter. */
  total: number;
  /** Per top-level group (embed, pos, block0..., final_norm, map, head). */
  byGroup: Record<string, number>;
}

export function countParams(c: ModelConfig): ParamCounts {
  const counts: ParamCounts = { blockMatrices: 0, total: 0, byGroup: {} };
  for (const s of paramSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    counts.total += n;
    if (s.blockMatrix) counts.blockMatrices += n;
    const group = s.name.split('/')[0]!;
    counts.byGroup[group] = (counts.byGroup[group] ?? 0) + n;
  }
  return counts;
}
