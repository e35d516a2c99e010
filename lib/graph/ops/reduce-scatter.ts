/**
 * reduce_scatter(x) over a mesh axis: [ranks, s...] -> [s...]; rank r gets the sum over every rank
 * of block r, added in rank order (deterministic). The row-parallel matmul's partial sums become
 * the feature-sharded residual stream this way. Its gradient is all_gather.
 */
import { shapeText, type TensorType } from '../types';
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel } from '../types';
import { requireArity, shapeMismatch, storageOf } from './check';
import { collectiveAttrs, requireCollectiveDType, type CollectiveAttrs } from './collective-attrs';

export const reduceScatterOp: OpDef = {
  name: 'reduce_scatter',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('reduce_scatter', inputs, 1);
    const x = inputs[0]!;
    requireCollectiveDType('reduce_scatter', x);
    const { ranks } = collectiveAttrs('reduce_scatter', attrs);
    if (x.shape.length === 0 || x.shape[0] !== ranks) {
      throw shapeMismatch('reduce_scatter', 'x must be [ranks, ...] (one block per rank)', `[${ranks}, ...]`, shapeText(x.shape));
    }
    return [{ shape: x.shape.slice(1), dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const { axis, ranks } = ctx.node.attrs as unknown as CollectiveAttrs;
    return [ctx.g.apply('all_gather', [dy], { axis, ranks })];
  },
  lower(ctx: LowerContext, node: Node): void {
    const y = node.outputs[0]!;
    const { axis, ranks } = node.attrs as unknown as CollectiveAttrs;
    ctx.emit('reduce_scatter', { axis, ranks, dtype: storageOf('reduce_scatter', 'y', y.dtype), count: numel(y.shape), x: ctx.view(node.inputs[0] as Value), y: ctx.view(y) });
  },
};
