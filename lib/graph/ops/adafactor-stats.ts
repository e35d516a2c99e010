/**
 * adafactor_stats(grad [, clipScale] [, vr]) -> rowSums f32 [rows], colSums f32 [cols] [, vrSum f32 [1]]
 * One shard's partial statistics of a factored Adafactor step (lib/kernels/adafactor_stats.ts):
 * with s = (clipScale grad)^2 + eps, rowSums = the sums of s over this shard's columns, colSums over
 * its rows, and, when `vrSum` is set (vr given as the last input), the sum over this shard's rows of
 * the vr that adafactor_update is about to compute (d vr + (1 - d) rowSums / totalCols, d the
 * per-run 'decay' scalar): only meaningful for a shard of complete rows (a row shard). The grad is
 * viewed as [rows, cols] of the shard (attrs, as adafactor_update's). Summed over the shards (an
 * all-reduce), the outputs are adafactor_update's `stats` inputs. No gradient: an optimizer op.
 *
 * Attrs: rows, cols (the shard's), eps (default 1e-30, as adafactor_update's), hasClip (clipScale f32 []
 * is the second input), vrSum (boolean; vr f32 [rows] is the last input), totalCols (the global
 * matrix's columns; default cols).
 */
import type { Node } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireShape, storageOf } from './check';

export interface AdafactorStatsAttrs {
  rows: number;
  cols: number;
  eps?: number;
  hasClip?: boolean;
  vrSum?: boolean;
  totalCols?: number;
}

const OP = 'adafactor_stats';

export const adafactorStatsOp: OpDef = {
  name: OP,
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const a = attrs as unknown as AdafactorStatsAttrs;
    requireArity(OP, inputs, 1 + (a.hasClip ? 1 : 0) + (a.vrSum ? 1 : 0));
    const rows = numberAttr(OP, 'rows', a.rows, { integer: true, min: 0 });
    const cols = numberAttr(OP, 'cols', a.cols, { integer: true, min: 0 });
    numberAttr(OP, 'eps', a.eps, { min: 1.1754943508222875e-38, fallback: 1e-30 });
    numberAttr(OP, 'totalCols', a.totalCols, { integer: true, min: cols, fallback: cols });
    const g = inputs[0]!;
    requireDType(OP, 'grad', g, ['f32', 'bf16']);
    const n = g.shape.reduce((x, y) => x * y, 1);
    if (rows * cols !== n) requireShape(OP, 'grad (as a matrix)', g, [rows, cols]);
    if (a.hasClip) requireShape(OP, 'clipScale', inputs[1]!, []);
    if (a.vrSum) {
      const vr = inputs[inputs.length - 1]!;
      requireDType(OP, 'vr', vr, ['f32']);
      requireShape(OP, 'vr', vr, [rows]);
    }
    const out: TensorType[] = [
      { shape: [rows], dtype: 'f32' },
      { shape: [cols], dtype: 'f32' },
    ];
    if (a.vrSum) out.push({ shape: [1], dtype: 'f32' });
    return out;
  },
  lower(ctx: LowerContext, node: Node): void {
    const a = node.attrs as unknown as AdafactorStatsAttrs;
    const g = node.inputs[0]!;
    const clip = a.hasClip ? node.inputs[1] : undefined;
    const vr = a.vrSum ? node.inputs[node.inputs.length - 1] : undefined;
    ctx.emit('adafactor_stats', {
      gradType: storageOf(OP, 'grad', g.dtype),
      rows: a.rows,
      cols: a.cols,
      grad: ctx.view(g),
      eps: a.eps ?? 1e-30,
      gradScale: clip ? { read: ctx.view(clip) } : 1,
      rowSums: ctx.view(node.outputs[0]!),
      colSums: ctx.view(node.outputs[1]!),
      decay: vr ? ctx.runtimeScalar('decay') : 0,
      ...(a.totalCols !== undefined ? { totalCols: a.totalCols } : {}),
      ...(vr ? { vr: ctx.view(vr), vrSum: ctx.view(node.outputs[2]!) } : {}),
    });
  },
};
