/**
 * add(a, b): y = a + b elementwise (same shape and dtype): residual connections and the sums of
 * gradients that reach one value along several paths. In place on whichever input dies here; the
 * fusion pass folds an add whose other side is a GEMM into that GEMM (beta = 1).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType, requireSameDType, requireShape, storageOf } from './check';
import { emitAxpby, emitCopy } from './emit';

export const addOp: OpDef = {
  name: 'add',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('add', inputs, 2);
    const [a, b] = inputs as [TensorType, TensorType];
    requireDType('add', 'a', a, ['f32', 'bf16']);
    requireSameDType('add', 'a and b', a, b);
    requireShape('add', 'b', b, a.shape);
    return [{ shape: a.shape, dtype: a.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0] ?? null;
    return [ctx.needs[0] ? dy : null, ctx.needs[1] ? dy : null];
  },
  inPlace: [
    [0, 0],
    [0, 1],
  ],
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const [a, b] = node.inputs as [Value, Value];
    const y = node.outputs[0]!;
    const n = numel(y.shape);
    const dtype = storageOf('add', 'y', y.dtype);
    if (ctx.inPlace(node, 0, 0)) emitAxpby(ctx, dtype, n, 1, ctx.view(b), 1, ctx.view(y));
    else if (ctx.inPlace(node, 0, 1)) emitAxpby(ctx, dtype, n, 1, ctx.view(a), 1, ctx.view(y));
    else {
      emitCopy(ctx, dtype, n, ctx.view(a), ctx.view(y));
      emitAxpby(ctx, dtype, n, 1, ctx.view(b), 1, ctx.view(y));
    }
  },
};
