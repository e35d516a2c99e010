/**
 * scale(x, factor): y = factor * x (a constant factor). Scaled losses and their seeds fold to
 * constants in the gradient (GradContext.constant), so a weighted sum of losses needs no kernel.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, storageOf } from './check';
import { emitAxpby } from './emit';

export const scaleOp: OpDef = {
  name: 'scale',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('scale', inputs, 1);
    requireDType('scale', 'x', inputs[0]!, ['f32', 'bf16']);
    numberAttr('scale', 'factor', attrs.factor);
    return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const factor = ctx.node.attrs.factor as number;
    const c = ctx.constant(dy);
    if (c !== undefined) return [ctx.g.apply('const', [], { name: '', shape: dy.shape, dtype: dy.dtype, value: c * factor })];
    return [ctx.g.apply('scale', [dy], { factor })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const y = node.outputs[0]!;
    emitAxpby(ctx, storageOf('scale', 'y', y.dtype), numel(y.shape), node.attrs.factor as number, ctx.view(x), 0, ctx.view(y));
  },
};
