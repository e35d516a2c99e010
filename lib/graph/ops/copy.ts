/**
 * copy(x): a fresh buffer with x's contents. Autodiff uses it where a parameter's gradient would
 * otherwise be a view of, or the same value as, something else, so each gradient gets its own
 * persistent buffer.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType, storageOf } from './check';
import { emitCopy } from './emit';

export const copyOp: OpDef = {
  name: 'copy',
  infer(inputs: readonly TensorType[], _attrs: Attrs): TensorType[] {
    requireArity('copy', inputs, 1);
    requireDType('copy', 'x', inputs[0]!, ['f32', 'bf16']);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    return [ctx.needs[0] ? (ctx.dy[0] ?? null) : null];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const y = node.outputs[0]!;
    emitCopy(ctx, storageOf('copy', 'y', y.dtype), numel(y.shape), ctx.view(node.inputs[0] as Value), ctx.view(y));
  },
};
