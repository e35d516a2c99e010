/**
 * sum_to(x [..., *shape]): the sum over x's leading dimensions down to its trailing `shape`, in f32
 * accumulation: the gradient of every broadcast (bias [N] over rows, position embedding [T, D] over
 * the batch). The position-embedding backward kernel computes exactly this.
 */
import { assertDType } from '../../runtime/dtype';
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, shapeText, type Shape, type TensorType } from '../types';
import { requireArity, requireDType, shapeMismatch, storageOf } from './check';
import { rowsFit, rowsOf } from './window-layout';

export interface SumToAttrs {
  shape: Shape;
  /** The result's dtype (f32 | bf16); x's by default. */
  dtype?: string;
}

export const sumToOp: OpDef = {
  name: 'sum_to',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('sum_to', inputs, 1);
    const x = inputs[0]!;
    const at = attrs as unknown as SumToAttrs;
    requireDType('sum_to', 'x', x, ['f32', 'bf16']);
    const k = at.shape.length;
    const tail = x.shape.slice(x.shape.length - k);
    if (k > x.shape.length || tail.some((d, i) => d !== at.shape[i])) {
      throw shapeMismatch('sum_to', 'the target must be a trailing part of the shape', `[..., ${at.shape.join(', ')}]`, shapeText(x.shape));
    }
    const dtype = at.dtype === undefined ? x.dtype : assertDType(at.dtype, 'sum_to dtype');
    return [{ shape: at.shape, dtype }];
  },
  // x may be a window of rows of the result's size: a bias gradient read out of the fused
  // projection's gradient (the MLP part of dz).
  windowInput: (node, _input, rowLen) => rowsFit(rowLen, numel(node.outputs[0]!.shape)),
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const y = node.outputs[0]!;
    const inner = numel(y.shape);
    const dx = rowsOf(ctx, x, inner);
    ctx.emit('pos_embed_bwd', {
      dtype: storageOf('sum_to', 'x', x.dtype),
      posDtype: storageOf('sum_to', 'y', y.dtype),
      b: inner === 0 ? 0 : numel(x.shape) / inner,
      t: 1,
      d: inner,
      dx: dx.view,
      ...(dx.stride !== inner ? { dxRowStride: dx.stride } : {}),
      dpos: ctx.view(y),
    });
  },
};
