/**
 * big_vision's Adafactor (the ViT-G / ViT-e / ViT-22B optimizer): factored second moment for
 * parameters whose matrix view has both dims >= minDimToFactor, beta2_t = min(0.999, 1 - t^-0.8)
 * (the run scalar `decay`, derived from `step` unless given), momentum 0.9 stored in bf16, decoupled
 * weight decay scaled by the learning rate. The paper's recipe: weightDecay 0.03 for the body and
 * `overrides: { 'head/w': { weightDecay: 3 } }`.
 *
 * Under a mesh, a factored weight split over `model` (and under ZeRO-3 over `data` too) needs the
 * row and column means of the GLOBAL matrix: each device sums its slice's statistics
 * (adafactor_stats), the sums are all-reduced over the axes that split them, and the update uses
 * them (see `sharded` below). The factoring is decided on the global shape, so a sharded run
 * factors exactly the weights the unsharded one does.
 */
import type { Value } from '../../graph/ir';
import type { DimSplit } from '../../graph/sharding';
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
    const clipIn = c.clip ? [c.clip] : [];
    const base = withoutUndefined({ ...layout, ...hyper });
    const splits = factored && c.layout ? matrixSplits(c) : { rowSplit: null, colSplit: null };
    if (!splits.rowSplit && !splits.colSplit) {
      const second = factored
        ? [c.state(`adafactor/vr/${c.name}`, { shape: [layout.rows] }), c.state(`adafactor/vc/${c.name}`, { shape: [layout.cols] })]
        : [c.state(`adafactor/v/${c.name}`)];
      c.g.add('adafactor_update', [c.param, c.grad, momentum, ...second, ...clipIn], base);
      return;
    }
    sharded(spec, c, { momentum, layout, base, clipIn, ...splits });
  },
  deriveScalar(name, scalars) {
    return name === 'decay' && typeof scalars.step === 'number' ? adafactorDecay(scalars.step) : undefined;
  },
};

/**
 * How a factored parameter's matrix view [rows, cols] is split: its rows (dimension 0 of a matrix)
 * and its columns (the last dimension), each over at most one mesh axis. A model split gives one of
 * them (the in-projections' columns, the out-projections' rows); ZeRO-3 adds a data split of a
 * dimension the model axis left whole, so a weight may be split both ways.
 */
function matrixSplits(c: UpdateContext): { rowSplit: DimSplit | null; colSplit: DimSplit | null } {
  const dims = c.layout!.dims;
  const last = dims.length - 1;
  const leading = dims.slice(0, last).findIndex((d) => d !== null);
  if (leading >= 0 && dims.length !== 2) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor of '${c.name}': a split of dimension ${leading} of a rank-${dims.length} weight is neither a row nor a column shard`, {
      expected: 'a matrix split by rows and/or by columns',
      received: JSON.stringify(dims),
    });
  }
  return { rowSplit: dims.length === 2 ? dims[0]! : null, colSplit: dims[last] ?? null };
}

/**
 * A factored parameter whose slice holds part of the rows and/or part of the columns of the global
 * matrix [totalRows, totalCols]. With s = (clip g)^2 + eps on this slice [rows, cols]:
 *   rowSums (of vr's update) = sum of s over every global column: the slice's row sums all-reduced
 *     over the axis splitting the columns;
 *   colSums (of vc's update) = sum of s over every global row: the column sums all-reduced over the
 *     axis splitting the rows;
 *   vrSum (mean(vr) = vrSum / totalRows) = the sum of the updated vr over every global row. The
 *     slice's adafactor_stats gives sum_i (decay vr[i] + (1 - decay) rowSums_here[i] / cols), which is
 *     linear in its own row sums: averaged over the column axis (all_reduce with scale 1/n, vr
 *     being the same on those ranks) it becomes sum_i (decay vr[i] + (1 - decay) rowSums[i] /
 *     totalCols) with the global rowSums; then summed over the row axis.
 * vr is split like the rows, vc like the columns; each is whole on the ranks of the other axis,
 * where every rank computes the same values.
 */
function sharded(
  spec: AdafactorSpec,
  c: UpdateContext,
  s: { momentum: Value; layout: { rows: number; cols: number }; base: object; clipIn: Value[]; rowSplit: DimSplit | null; colSplit: DimSplit | null },
): void {
  const global = adafactorLayout(c.layout!.shape, 1);
  if ((spec.clipThreshold ?? 0) > 0) {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', `Adafactor's block-RMS clipping of '${c.name}', a sharded weight, needs a global sum not wired yet`, {
      expected: 'clipThreshold 0 (the recipe) with a sharded weight',
      received: String(spec.clipThreshold),
    });
  }
  const { rows, cols } = s.layout;
  const ranksOf = (split: DimSplit) => c.g.mesh![split.axis];
  const reduce = (v: Value, split: DimSplit, scale = 1) => c.g.apply('all_reduce', [v], { axis: split.axis, ranks: ranksOf(split), ...(scale !== 1 ? { scale } : {}) });
  const vr = c.state(`adafactor/vr/${c.name}`, { shape: [rows], ...(s.rowSplit ? { layout: { shape: [global.rows], dims: [s.rowSplit] } } : {}) });
  const vc = c.state(`adafactor/vc/${c.name}`, { shape: [cols], ...(s.colSplit ? { layout: { shape: [global.cols], dims: [s.colSplit] } } : {}) });
  // totalCols = this slice's cols: the vrSum above is per slice, made global by the reductions below.
  const stats = c.g.add('adafactor_stats', [c.grad, ...s.clipIn, ...(s.rowSplit ? [vr] : [])], withoutUndefined({ rows, cols, eps: spec.eps, hasClip: s.clipIn.length > 0, totalCols: cols, ...(s.rowSplit ? { vrSum: true } : {}) }));
  const extra: Value[] = [];
  const flags: { rowSums?: true; colSums?: true; vrSum?: true; totalRows?: number; totalCols?: number } = {};
  if (s.colSplit) {
    extra.push(reduce(stats.outputs[0]!, s.colSplit));
    Object.assign(flags, { rowSums: true, totalCols: global.cols });
  }
  if (s.rowSplit) {
    extra.push(reduce(stats.outputs[1]!, s.rowSplit));
    let vrSum = stats.outputs[2]!;
    if (s.colSplit) vrSum = reduce(vrSum, s.colSplit, 1 / ranksOf(s.colSplit));
    extra.push(reduce(vrSum, s.rowSplit));
    Object.assign(flags, { colSums: true, vrSum: true, totalRows: global.rows });
  }
  c.g.add('adafactor_update', [c.param, c.grad, s.momentum, vr, vc, ...s.clipIn, ...extra], { ...s.base, stats: flags });
}
