/**
 * adafactor_update(param, grad, momentum, vr, vc [, clipScale])   (factored)
 * adafactor_update(param, grad, momentum, v [, clipScale])        (unfactored)
 * One step of big_vision's Adafactor on persistent buffers, in place, through the existing kernel
 * (native/cpu/adafactor.cc writes out the formula). The parameter is viewed as a matrix
 * [prod(shape[:-1]), last] (lib/runtime/ops/adafactor.ts adafactorLayout); factored when both dims
 * are >= 32. The learning rate `lr` and the second-moment decay `decay` (beta2_t = min(0.999,
 * 1 - t^-0.8)) are per-run scalars, so one plan serves the whole schedule; the clip factor is read
 * from device memory. Per-parameter lrMult and weightDecay are attrs; the decay is decoupled and
 * scaled by lr (not by lrMult), as the kernel defines.
 *
 * Sharded (factored only): attrs.stats = { rowSums?, colSums?, vrSum?: boolean, totalRows?, totalCols? }
 * makes the update use statistics of the GLOBAL matrix, all-reduced over the shards from
 * adafactor_stats, for a shard [rows, cols] of a [totalRows, totalCols] parameter (the kernel's
 * "Sharded"). The flagged inputs follow the others (after clipScale) in this order:
 *   rowSums f32 [rows]   sums of s = (clip g)^2 + eps over every global column   (column shards)
 *   colSums f32 [cols]   sums of s over every global row                         (row shards)
 *   vrSum   f32 [1]      the sum of the updated vr over every global row          (row shards)
 * totalRows / totalCols default to rows / cols. clipThreshold must be 0 with stats. A column shard
 * passes { rowSums: true, totalCols }, a row shard { colSums: true, vrSum: true, totalRows }.
 */
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import type { KernelSpec } from '../../kernels/spec';
import type { PlanScalar, PlanView } from '../../runtime/plan-format';
import type { TensorType } from '../types';
import { Vit22bError } from '../../runtime/errors';
import { numberAttr, requireArity, requireDType, requireShape, storageOf } from './check';

export interface AdafactorAttrs {
  rows: number;
  cols: number;
  factored: boolean;
  beta1?: number;
  eps?: number;
  weightDecay?: number;
  lrMult?: number;
  clipThreshold?: number;
  hasClip?: boolean;
  /** Statistics of the global matrix for a shard (see above); absent = this buffer is the whole. */
  stats?: AdafactorShardStats;
}

export interface AdafactorShardStats {
  rowSums?: boolean;
  colSums?: boolean;
  vrSum?: boolean;
  totalRows?: number;
  totalCols?: number;
}

const STAT_INPUTS = ['rowSums', 'colSums', 'vrSum'] as const;

/** The stats inputs the attrs flag, in input order. */
function statInputs(stats: AdafactorShardStats | undefined): (typeof STAT_INPUTS)[number][] {
  return stats ? STAT_INPUTS.filter((k) => stats[k] === true) : [];
}

export const adafactorUpdateOp: OpDef = {
  name: 'adafactor_update',
  effect: true,
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const a = attrs as unknown as AdafactorAttrs;
    const op = 'adafactor_update';
    const second = a.factored ? 2 : 1;
    const statNames = statInputs(a.stats);
    const firstStat = 3 + second + (a.hasClip ? 1 : 0);
    requireArity(op, inputs, firstStat + statNames.length);
    const rows = numberAttr(op, 'rows', a.rows, { integer: true, min: 0 });
    const cols = numberAttr(op, 'cols', a.cols, { integer: true, min: 0 });
    const [p, g, m] = inputs as [TensorType, TensorType, TensorType];
    requireDType(op, 'param', p, ['f32']);
    requireDType(op, 'grad', g, ['f32', 'bf16']);
    requireDType(op, 'momentum', m, ['bf16', 'f32']);
    requireShape(op, 'grad', g, p.shape);
    requireShape(op, 'momentum', m, p.shape);
    const n = p.shape.reduce((x, y) => x * y, 1);
    if (rows * cols !== n) requireShape(op, 'param (as a matrix)', p, [rows, cols]);
    if (a.factored) {
      requireDType(op, 'vr', inputs[3]!, ['f32']);
      requireDType(op, 'vc', inputs[4]!, ['f32']);
      requireShape(op, 'vr', inputs[3]!, [rows]);
      requireShape(op, 'vc', inputs[4]!, [cols]);
    } else {
      requireDType(op, 'v', inputs[3]!, ['f32']);
      requireShape(op, 'v', inputs[3]!, p.shape);
    }
    if (a.hasClip) requireShape(op, 'clipScale', inputs[3 + second]!, []);
    numberAttr(op, 'beta1', a.beta1, { min: 0, max: 1, fallback: 0.9 });
    numberAttr(op, 'eps', a.eps, { min: 1.1754943508222875e-38, fallback: 1e-30 });
    numberAttr(op, 'weightDecay', a.weightDecay, { min: 0, fallback: 0 });
    numberAttr(op, 'lrMult', a.lrMult, { min: 0, fallback: 1 });
    const clipThreshold = numberAttr(op, 'clipThreshold', a.clipThreshold, { min: 0, fallback: 0 });
    if (a.stats !== undefined) {
      if (typeof a.stats !== 'object' || a.stats === null) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: attribute stats must be an object`, { expected: '{ rowSums?, colSums?, vrSum?, totalRows?, totalCols? }', received: String(a.stats) });
      }
      if (!a.factored) throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: stats (sharded statistics) are for factored parameters only`, { expected: 'factored', received: 'unfactored' });
      if (clipThreshold > 0) throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: clipThreshold must be 0 with stats (block-RMS clipping needs the global update rms)`, { expected: 'clipThreshold 0', received: String(clipThreshold) });
      const totalRows = numberAttr(op, 'stats.totalRows', a.stats.totalRows, { integer: true, min: rows, fallback: rows });
      const totalCols = numberAttr(op, 'stats.totalCols', a.stats.totalCols, { integer: true, min: cols, fallback: cols });
      const need = (flag: (typeof STAT_INPUTS)[number], when: boolean, why: string): void => {
        if (when && !a.stats![flag]) throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: stats.${flag} is required ${why}`, { expected: `stats.${flag}: true`, received: String(a.stats![flag]) });
      };
      need('rowSums', totalCols > cols, 'when totalCols > cols (the shard sees only its own columns)');
      need('colSums', totalRows > rows, 'when totalRows > rows (the shard sees only its own rows)');
      need('vrSum', totalRows > rows, 'when totalRows > rows (mean(vr) is over every global row)');
      const shapes = { rowSums: [rows], colSums: [cols], vrSum: [1] };
      statNames.forEach((name, i) => {
        requireDType(op, name, inputs[firstStat + i]!, ['f32']);
        requireShape(op, name, inputs[firstStat + i]!, shapes[name]);
      });
    }
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const a = node.attrs as unknown as AdafactorAttrs;
    const [p, g, m] = node.inputs as [Value, Value, Value];
    const second = a.factored ? { vr: ctx.view(node.inputs[3]!), vc: ctx.view(node.inputs[4]!) } : { v: ctx.view(node.inputs[3]!) };
    const clip = a.hasClip ? node.inputs[a.factored ? 5 : 4] : undefined;
    const firstStat = (a.factored ? 5 : 4) + (a.hasClip ? 1 : 0);
    const stats: Record<string, unknown> = {};
    statInputs(a.stats).forEach((name, i) => (stats[name] = ctx.view(node.inputs[firstStat + i]!)));
    if (a.stats?.totalRows !== undefined) stats.totalRows = a.stats.totalRows;
    if (a.stats?.totalCols !== undefined) stats.totalCols = a.stats.totalCols;
    ctx.emit('adafactor', {
      rows: a.rows,
      cols: a.cols,
      factored: a.factored,
      gradType: storageOf('adafactor_update', 'grad', g.dtype),
      momentumType: storageOf('adafactor_update', 'momentum', m.dtype),
      param: ctx.view(p),
      grad: ctx.view(g),
      momentum: ctx.view(m),
      ...second,
      lr: ctx.runtimeScalar('lr'),
      lrMult: a.lrMult ?? 1,
      weightDecay: a.weightDecay ?? 0,
      beta1: a.beta1 ?? 0.9,
      decay: ctx.runtimeScalar('decay'),
      eps: a.eps ?? 1e-30,
      gradScale: clip ? { read: ctx.view(clip) } : 1,
      clipThreshold: a.clipThreshold ?? 0,
      ...(stats as Pick<KernelSpec<'adafactor', PlanView, PlanScalar>, 'rowSums' | 'colSums' | 'vrSum' | 'totalRows' | 'totalCols'>),
    });
  },
};
