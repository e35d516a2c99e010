/**
 * broadcast_batch(x, batch) -> [batch, ...x.shape]: one copy of x per example (the MAP head's probe
 * token, a class token). The gradient sums over the batch (sum_to).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType } from './check';
import { emitStridedCopy } from './strided';

export const broadcastBatchOp: OpDef = {
  name: 'broadcast_batch',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('broadcast_batch', inputs, 1);
    const x = inputs[0]!;
    requireDType('broadcast_batch', 'x', x, ['f32', 'bf16', 'i32']);
    const batch = numberAttr('broadcast_batch', 'batch', attrs.batch, { integer: true, min: 0 });
    return [{ shape: [batch, ...x.shape], dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const x = ctx.node.inputs[0]!;
    return [ctx.g.apply('sum_to', [dy], { shape: x.shape, dtype: x.dtype })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const n = numel(x.shape);
    emitStridedCopy(ctx, x.dtype, node.attrs.batch as number, n, ctx.view(x), 0, ctx.view(node.outputs[0]!), n);
  },
};
