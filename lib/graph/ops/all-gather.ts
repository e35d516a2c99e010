/**
 * all_gather(x) over a mesh axis: [s...] -> [ranks, s...], rank j's x at index j (NCCL's layout:
 * contiguous blocks). Gathering along another dimension is this followed by slices and a concat
 * (sharding-layouts.ts), so the collective itself stays the shape NCCL and MPI implement.
 * Its gradient is reduce_scatter: each rank used the gathered tensor in its own way (its own
 * weight columns), so the gradient of its block is the sum of every rank's gradient of it.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, storageOf } from './check';
import { collectiveAttrs, requireCollectiveDType, type CollectiveAttrs } from './collective-attrs';

export const allGatherOp: OpDef = {
  name: 'all_gather',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('all_gather', inputs, 1);
    requireCollectiveDType('all_gather', inputs[0]!);
    const { ranks } = collectiveAttrs('all_gather', attrs);
    return [{ shape: [ranks, ...inputs[0]!.shape], dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const { axis, ranks } = ctx.node.attrs as unknown as CollectiveAttrs;
    return [ctx.g.apply('reduce_scatter', [dy], { axis, ranks })];
  },
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const { axis, ranks } = node.attrs as unknown as CollectiveAttrs;
    ctx.emit('all_gather', { axis, ranks, dtype: storageOf('all_gather', 'x', x.dtype), count: numel(x.shape), x: ctx.view(x), y: ctx.view(node.outputs[0]!) });
  },
};
