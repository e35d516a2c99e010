/**
 * row_moments(x [..., d]) -> stats [rows, 2] f32: per row, the sum and the sum of squares of x's d
 * columns (lib/kernels/row_moments.ts). The first half of a norm whose features are split over a
 * mesh axis (passes/partition.ts): each device's partial moments are all-reduced over the axis, then
 * norm_apply normalizes the local columns with them. Its gradient, row_moments_grad, is
 * dx = dsum + 2 x dsumsq.
 */
import type { Node, Value } from '../ir';
import type { GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, rowsOf, type TensorType } from '../types';
import { requireArity, requireDType, requireShape, storageOf } from './check';

export const rowMomentsOp: OpDef = {
  name: 'row_moments',
  infer(inputs: readonly TensorType[]): TensorType[] {
    requireArity('row_moments', inputs, 1);
    requireDType('row_moments', 'x', inputs[0]!, ['f32', 'bf16']);
    return [{ shape: [rowsOf(inputs[0]!.shape), 2], dtype: 'f32' }];
  },
  cheap: true,
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('row_moments_grad', [ctx.node.inputs[0]!, dy])];
  },
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0]!;
    ctx.emit('row_moments', {
      dtype: storageOf('row_moments', 'x', x.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      x: ctx.view(x),
      stats: ctx.view(node.outputs[0]!),
    });
  },
};

/** row_moments_grad(x [..., d], dstats [rows, 2] f32) -> dx like x. */
export const rowMomentsGradOp: OpDef = {
  name: 'row_moments_grad',
  infer(inputs: readonly TensorType[]): TensorType[] {
    requireArity('row_moments_grad', inputs, 2);
    const [x, ds] = inputs as [TensorType, TensorType];
    requireDType('row_moments_grad', 'x', x, ['f32', 'bf16']);
    requireDType('row_moments_grad', 'dstats', ds, ['f32']);
    requireShape('row_moments_grad', 'dstats', ds, [rowsOf(x.shape), 2]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  lower(ctx: LowerContext, node: Node): void {
    const [x, ds] = node.inputs as [Value, Value];
    ctx.emit('row_moments_bwd', {
      dtype: storageOf('row_moments_grad', 'x', x.dtype),
      rows: rowsOf(x.shape),
      dim: lastDim(x.shape),
      x: ctx.view(x),
      dstats: ctx.view(ds),
      dx: ctx.view(node.outputs[0]!),
    });
  },
};
