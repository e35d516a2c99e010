/**
 * bias_add(x [..., N], bias [N]): y = x + bias on every row. The position-embedding kernel does the
 * work (x[b, t, d] += pos[t, d] with t = 1), in place when x dies here; the fusion pass moves a bias
 * after a GEMM into its epilogue. The bias gradient is the column sum of dy (sum_to).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { lastDim, numel, rowsOf, type TensorType } from '../types';
import { requireArity, requireDType, requireShape, storageOf } from './check';
import { emitCopy } from './emit';

export const biasAddOp: OpDef = {
  name: 'bias_add',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('bias_add', inputs, 2);
    const [x, b] = inputs as [TensorType, TensorType];
    requireDType('bias_add', 'x', x, ['f32', 'bf16']);
    requireDType('bias_add', 'bias', b, ['f32', 'bf16']);
    requireShape('bias_add', 'bias', b, [lastDim(x.shape)]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy) return [null, null];
    const b = ctx.node.inputs[1]!;
    return [ctx.needs[0] ? dy : null, ctx.needs[1] ? ctx.g.apply('sum_to', [dy], { shape: b.shape, dtype: b.dtype }) : null];
  },
  inPlace: [[0, 0]],
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const [x, b] = node.inputs as [Value, Value];
    const y = node.outputs[0]!;
    const dtype = storageOf('bias_add', 'y', y.dtype);
    if (!ctx.inPlace(node, 0, 0)) emitCopy(ctx, dtype, numel(y.shape), ctx.view(x), ctx.view(y));
    ctx.emit('pos_embed_add', {
      dtype,
      posDtype: storageOf('bias_add', 'bias', b.dtype),
      b: rowsOf(y.shape),
      t: 1,
      d: lastDim(y.shape),
      x: ctx.view(y),
      pos: ctx.view(b),
    });
  },
};
