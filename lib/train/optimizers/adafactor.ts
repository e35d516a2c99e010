/**
 * big_vision's Adafactor (the ViT-G / ViT-e / ViT-22B optimizer): factored second moment for
 * parameters whose matrix view has both dims >= minDimToFactor, beta2_t = min(0.999, 1 - t^-0.8)
 * (the run scalar `decay`, derived from `step` unless given), momentum 0.9 stored in bf16, decoupled
 * weight decay scaled by the learning rate. The paper's recipe: weightDecay 0.03 for the body and
 * `overrides: { 'head/w': { weightDecay: 3 } }`.
 *
 * Under a mesh, a factored weight split over `model` needs the row and column means of the GLOBAL
 * matrix: each device sums its slice's statistics (adafactor_stats), the sums are all-reduced over
 * model, and the update uses them. A column shard (the in-projections) needs the row sums over
 * every column; a row shard (the out-projections) the column sums over every row and the sum of
 * the updated vr over every row (mean(vr) normalizes the estimate). The statistic held whole (vr of
 * a column shard, vc of a row shard) comes out the same on every device.
 */
import type { Value } from '../../graph/ir';
import type { ParamOverrides } from '../../graph/param-overrides';
import { Vit22bError } from '../../runtime/errors';
import { adafactorDecay, adafactorLayout } from '../../runtime/ops/adafactor';
import { withoutUndefined, type OptimizerModule, type UpdateContext } from './optimizer';

export interface AdafactorSpec {
  kind: 'adafactor';
  /** Momentum decay (no debiasing). Default 0.9. */
  beta1?: number;
  /** Added to grad^2 (epsilon1). Default 1e-30. */
  eps?: number;
  weightDecay?: number;
  /** Storage of the momentum: 'bf16' (the recipe, default) or 'f32'. */
  momentumDtype?: 'bf16' | 'f32';
  /** Factor when both dims are at least this. Default 32. */
  minDimToFactor?: number;
  /** Block-RMS update clipping; 0 (default, the recipe) is off. */
  clipThreshold?: number;
  overrides?: ParamOverrides;
}

export const adafactor: OptimizerModule<AdafactorSpec> = {
  kind: 'adafactor',
  update(spec, c) {
    const minDim = spec.minDimToFactor ?? 32;
    // Whether to factor is the global tensor's property; rows and cols are this device's slice.
    const factored = adafactorLayout(c.layout?.shape ?? c.param.shape, minDim).factored;
    const layout = { ...adafactorLayout(c.param.shape, minDim), factored };
    const hyper = { beta1: spec.beta1, eps: spec.eps, weightDecay: c.weightDecay, lrMult: c.lrMult, clipThreshold: spec.clipThreshold, hasClip: !!c.clip };
    const momentum = c.state(`adafactor/m/${c.name}`, { dtype: spec.momentumDtype ?? 'bf16' });
    const modelRanks = c.g.mesh?.model ?? 1;
    if (factored && (c.g.mesh?.data ?? 1) > 1 && c.layout?.dims.some((d) => d?.axis === 'data')) {
      throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor of '${c.name}', a weight split over data (ZeRO-3), needs its factored statistics reduced over data: not wired yet`, {
        expected: 'adamw with zero 3, or adafactor without it',
        received: 'adafactor with zero 3',
      });
    }
    const splitDim = modelRanks > 1 && c.layout ? c.layout.dims.findIndex((d) => d?.axis === 'model') : -1;
    const clipIn = c.clip ? [c.clip] : [];
    const base = withoutUndefined({ ...layout, ...hyper });
    if (!factored || splitDim < 0) {
      const second = factored
        ? [c.state(`adafactor/vr/${c.name}`, { shape: [layout.rows] }), c.state(`adafactor/vc/${c.name}`, { shape: [layout.cols] })]
        : [c.state(`adafactor/v/${c.name}`)];
      c.g.add('adafactor_update', [c.param, c.grad, momentum, ...second, ...clipIn], base);
      return;
    }
    sharded(spec, c, { momentum, layout, base, clipIn, splitDim, modelRanks });
  },
  deriveScalar(name, scalars) {
    return name === 'decay' && typeof scalars.step === 'number' ? adafactorDecay(scalars.step) : undefined;
  },
};

function sharded(
  spec: AdafactorSpec,
  c: UpdateContext,
  s: { momentum: Value; layout: { rows: number; cols: number }; base: object; clipIn: Value[]; splitDim: number; modelRanks: number },
): void {
  const dims = c.layout!;
  const split = dims.dims[s.splitDim]!;
  const global = adafactorLayout(dims.shape, 1);
  if ((spec.clipThreshold ?? 0) > 0) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor's block-RMS clipping of '${c.name}', a weight split over model, needs a global sum not wired yet`, {
      expected: 'clipThreshold 0 (the recipe) under a model axis',
      received: String(spec.clipThreshold),
    });
  }
  const { rows, cols } = s.layout;
  const reduce = (v: Value) => c.g.apply('all_reduce', [v], { axis: 'model', ranks: s.modelRanks });
  const statsOf = (inputs: Value[], attrs: object) => c.g.add('adafactor_stats', inputs, withoutUndefined({ rows, cols, eps: spec.eps, hasClip: s.clipIn.length > 0, ...attrs }));
  if (s.splitDim === dims.shape.length - 1) {
    const vr = c.state(`adafactor/vr/${c.name}`, { shape: [rows] });
    const vc = c.state(`adafactor/vc/${c.name}`, { shape: [cols], layout: { shape: [global.cols], dims: [split] } });
    const stats = statsOf([c.grad, ...s.clipIn], { totalCols: global.cols });
    const rowSums = reduce(stats.outputs[0]!);
    c.g.add('adafactor_update', [c.param, c.grad, s.momentum, vr, vc, ...s.clipIn, rowSums], { ...s.base, stats: { rowSums: true, totalCols: global.cols } });
    return;
  }
  if (dims.shape.length !== 2 || s.splitDim !== 0) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor of '${c.name}': a split of dimension ${s.splitDim} of a rank-${dims.shape.length} weight is neither a row nor a column shard`, {
      expected: 'a matrix split by rows or by columns',
      received: JSON.stringify(dims.dims),
    });
  }
  const vr = c.state(`adafactor/vr/${c.name}`, { shape: [rows], layout: { shape: [global.rows], dims: [split] } });
  const vc = c.state(`adafactor/vc/${c.name}`, { shape: [cols] });
  const stats = statsOf([c.grad, ...s.clipIn, vr], { vrSum: true, totalCols: cols });
  const colSums = reduce(stats.outputs[1]!);
  const vrSum = reduce(stats.outputs[2]!);
  c.g.add('adafactor_update', [c.param, c.grad, s.momentum, vr, vc, ...s.clipIn, colSums, vrSum], { ...s.base, stats: { colSums: true, vrSum: true, totalRows: global.rows } });
}
