/**
 * reshape(x, shape): the same elements under another shape. A view: no kernel, no memory of its own
 * (the planner gives it x's memory).
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, OpDef } from '../op-def';
import { checkShape, numel, shapeText, type TensorType } from '../types';
import { requireArity, shapeMismatch } from './check';

export const reshapeOp: OpDef = {
  name: 'reshape',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('reshape', inputs, 1);
    const x = inputs[0]!;
    const shape = checkShape(attrs.shape, 'reshape shape');
    if (numel(shape) !== numel(x.shape)) {
      throw shapeMismatch('reshape', 'the element count must not change', `${numel(x.shape)} elements`, `${shapeText(shape)} (${numel(shape)})`);
    }
    return [{ shape, dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    return [ctx.g.apply('reshape', [dy], { shape: ctx.node.inputs[0]!.shape })];
  },
  view: true,
  cheap: true,
  lower(_ctx, _node: Node): void {
    void (_node.inputs[0] as Value);
  },
};
