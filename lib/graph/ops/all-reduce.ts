/**
 * all_reduce(x, scale) over a mesh axis: scale * (the sum of x over every rank, in rank order). The
 * result is the same on every rank of the axis (invariant), so its gradient needs no communication:
 * each rank's input gradient is dy * scale (the seed of a mean loss reaches every rank's local loss
 * as 1/ranks). `scale` 1/ranks makes it a mean (the loss over the data axis).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { numberAttr, requireArity, storageOf } from './check';
import { collectiveAttrs, requireCollectiveDType, type CollectiveAttrs } from './collective-attrs';

export interface AllReduceAttrs extends CollectiveAttrs {
  scale?: number;
}

export const allReduceOp: OpDef = {
  name: 'all_reduce',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('all_reduce', inputs, 1);
    requireCollectiveDType('all_reduce', inputs[0]!);
    collectiveAttrs('all_reduce', attrs);
    numberAttr('all_reduce', 'scale', attrs.scale, { fallback: 1 });
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const scale = (ctx.node.attrs as unknown as AllReduceAttrs).scale ?? 1;
    if (scale === 1) return [dy];
    const c = ctx.constant(dy);
    if (c !== undefined) return [ctx.g.apply('const', [], { name: '', shape: dy.shape, dtype: dy.dtype, value: c * scale })];
    return [ctx.g.apply('scale', [dy], { factor: scale })];
  },
  inPlace: [[0, 0]],
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const a = node.attrs as unknown as AllReduceAttrs;
    ctx.emit('all_reduce', {
      axis: a.axis,
      ranks: a.ranks,
      dtype: storageOf('all_reduce', 'x', x.dtype),
      count: numel(x.shape),
      x: ctx.view(x),
      y: ctx.view(node.outputs[0]!),
      scale: a.scale ?? 1,
    });
  },
};
