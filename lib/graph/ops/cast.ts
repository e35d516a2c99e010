/**
 * cast(x, dtype): f32 <-> bf16 (round to nearest even). The mixed-precision pass puts these between
 * f32 master weights and bf16 compute; the gradient casts back, so master gradients stay f32.
 */
import { assertDType } from '../../runtime/dtype';
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType, storageOf } from './check';

export const castOp: OpDef = {
  name: 'cast',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('cast', inputs, 1);
    requireDType('cast', 'x', inputs[0]!, ['f32', 'bf16']);
    const to = assertDType(attrs.dtype, 'cast dtype');
    requireDType('cast', 'dtype', { shape: [], dtype: to }, ['f32', 'bf16']);
    return [{ shape: inputs[0]!.shape, dtype: to }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('cast', [dy], { dtype: ctx.node.inputs[0]!.dtype })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const y = node.outputs[0]!;
    ctx.emit('cast', { from: storageOf('cast', 'x', x.dtype), to: storageOf('cast', 'y', y.dtype), n: numel(y.shape), x: ctx.view(x), y: ctx.view(y) });
  },
};
