/**
 * concat(x_1, ..., x_n, axis): the inputs joined along `axis` (the class token before the patch
 * tokens; the attention and MLP outputs side by side before the fused out-projection). Its gradient
 * is a slice per input.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { shapeText, type TensorType } from '../types';
import { numberAttr, requireDType, requireSameDType, shapeMismatch } from './check';
import { axisParts, emitStridedCopy, shiftView } from './strided';

export const concatOp: OpDef = {
  name: 'concat',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    if (inputs.length === 0) throw shapeMismatch('concat', 'needs at least one input', '>= 1 input', '0');
    const first = inputs[0]!;
    requireDType('concat', 'input 0', first, ['f32', 'bf16', 'i32']);
    const axis = numberAttr('concat', 'axis', attrs.axis, { integer: true, min: 0, max: first.shape.length - 1 });
    let total = 0;
    inputs.forEach((t, i) => {
      requireSameDType('concat', `input 0 and input ${i}`, first, t);
      const same = t.shape.length === first.shape.length && t.shape.every((d, k) => k === axis || d === first.shape[k]);
      if (!same) throw shapeMismatch('concat', `input ${i} differs off the concatenation axis ${axis}`, shapeText(first.shape), shapeText(t.shape));
      total += t.shape[axis]!;
    });
    const shape = [...first.shape];
    shape[axis] = total;
    return [{ shape, dtype: first.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    const axis = ctx.node.attrs.axis as number;
    let begin = 0;
    return ctx.node.inputs.map((x, i) => {
      const end = begin + x.shape[axis]!;
      const d = dy && ctx.needs[i] ? ctx.g.apply('slice', [dy], { axis, begin, end }) : null;
      begin = end;
      return d;
    });
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const y = node.outputs[0]!;
    const axis = node.attrs.axis as number;
    const { outer, length, inner } = axisParts(y.shape, axis);
    let begin = 0;
    for (const x of node.inputs) {
      const cols = x.shape[axis]! * inner;
      // A piece written in place by its producer (passes/windows.ts) needs no copy.
      if (!ctx.placed(x)) emitStridedCopy(ctx, y.dtype, outer, cols, ctx.view(x), cols, shiftView(ctx.view(y), begin * inner, y.dtype), length * inner);
      begin += x.shape[axis]!;
    }
  },
};
