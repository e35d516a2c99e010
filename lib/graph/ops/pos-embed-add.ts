/**
 * pos_embed_add(x [B, T, D], pos [T, D]): y = x + pos for every example, in place when x dies here.
 * The gradient of pos is the batch sum of dy (sum_to); x's is dy itself.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType, requireRank, requireShape, storageOf } from './check';
import { emitCopy } from './emit';

export const posEmbedAddOp: OpDef = {
  name: 'pos_embed_add',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('pos_embed_add', inputs, 2);
    const [x, pos] = inputs as [TensorType, TensorType];
    requireRank('pos_embed_add', 'x', x, 3);
    requireDType('pos_embed_add', 'x', x, ['f32', 'bf16']);
    requireDType('pos_embed_add', 'pos', pos, ['f32', 'bf16']);
    requireShape('pos_embed_add', 'pos', pos, x.shape.slice(1));
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy) return [null, null];
    const pos = ctx.node.inputs[1]!;
    return [ctx.needs[0] ? dy : null, ctx.needs[1] ? ctx.g.apply('sum_to', [dy], { shape: pos.shape, dtype: pos.dtype }) : null];
  },
  inPlace: [[0, 0]],
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const [x, pos] = node.inputs as [Value, Value];
    const y = node.outputs[0]!;
    const dtype = storageOf('pos_embed_add', 'y', y.dtype);
    if (!ctx.inPlace(node, 0, 0)) emitCopy(ctx, dtype, numel(y.shape), ctx.view(x), ctx.view(y));
    const [b, t, d] = y.shape as [number, number, number];
    ctx.emit('pos_embed_add', { dtype, posDtype: storageOf('pos_embed_add', 'pos', pos.dtype), b, t, d, x: ctx.view(y), pos: ctx.view(pos) });
  },
};
