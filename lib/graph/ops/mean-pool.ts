/**
 * mean_pool(x [B, T, D]) -> [B, D]: global average pooling over tokens (the 'gap' head).
 * mean_pool_grad(dy [B, D]) -> [B, T, D]: dy / T broadcast over tokens.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import type { TensorType } from '../types';
import { numberAttr, requireArity, requireDType, requireRank, storageOf } from './check';

export const meanPoolOp: OpDef = {
  name: 'mean_pool',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('mean_pool', inputs, 1);
    const x = inputs[0]!;
    requireRank('mean_pool', 'x', x, 3);
    requireDType('mean_pool', 'x', x, ['f32', 'bf16']);
    return [{ shape: [x.shape[0]!, x.shape[2]!], dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('mean_pool_grad', [dy], { t: ctx.node.inputs[0]!.shape[1] })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const [b, t, d] = x.shape as [number, number, number];
    ctx.emit('mean_pool', { dtype: storageOf('mean_pool', 'x', x.dtype), b, t, d, x: ctx.view(x), y: ctx.view(node.outputs[0]!) });
  },
};

export const meanPoolGradOp: OpDef = {
  name: 'mean_pool_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('mean_pool_grad', inputs, 1);
    const dy = inputs[0]!;
    requireRank('mean_pool_grad', 'dy', dy, 2);
    const t = numberAttr('mean_pool_grad', 't', attrs.t, { integer: true, min: 0 });
    return [{ shape: [dy.shape[0]!, t, dy.shape[1]!], dtype: dy.dtype }];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const dy = node.inputs[0] as Value;
    const [b, t, d] = node.outputs[0]!.shape as [number, number, number];
    ctx.emit('mean_pool_bwd', { dtype: storageOf('mean_pool_grad', 'dy', dy.dtype), b, t, d, dy: ctx.view(dy), dx: ctx.view(node.outputs[0]!) });
  },
};
