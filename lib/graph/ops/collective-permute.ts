/**
 * collective_permute(x, shift) over a mesh axis: rank r sends x to rank (r + shift) % ranks and
 * receives the x of rank (r - shift) mod ranks: one step of a ring (the collective matmul's building
 * block). Its gradient is the inverse permutation, shift ranks - shift.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { numberAttr, requireArity, storageOf } from './check';
import { collectiveAttrs, requireCollectiveDType, type CollectiveAttrs } from './collective-attrs';

export interface PermuteAttrs extends CollectiveAttrs {
  shift: number;
}

export const collectivePermuteOp: OpDef = {
  name: 'collective_permute',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('collective_permute', inputs, 1);
    requireCollectiveDType('collective_permute', inputs[0]!);
    const { ranks } = collectiveAttrs('collective_permute', attrs);
    numberAttr('collective_permute', 'shift', attrs.shift, { integer: true, min: 1, max: Math.max(1, ranks - 1) });
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const { axis, ranks, shift } = ctx.node.attrs as unknown as PermuteAttrs;
    return [ctx.g.apply('collective_permute', [dy], { axis, ranks, shift: ranks - shift })];
  },
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const a = node.attrs as unknown as PermuteAttrs;
    ctx.emit('collective_permute', { axis: a.axis, ranks: a.ranks, dtype: storageOf('collective_permute', 'x', x.dtype), count: numel(x.shape), shift: a.shift, x: ctx.view(x), y: ctx.view(node.outputs[0]!) });
  },
};
