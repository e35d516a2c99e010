/**
 * slice(x, axis, begin, end): x's elements with index in [begin, end) along `axis` (dense result).
 * Its gradient slice_grad puts dy back in place in a zero tensor of x's shape.
 */
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { numel, shapeText, type Shape, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, shapeMismatch } from './check';
import { axisParts, emitStridedCopy, emitZeros, shiftView } from './strided';

export interface SliceAttrs {
  axis: number;
  begin: number;
  end: number;
}

function checkSlice(op: string, shape: Shape, attrs: Attrs): SliceAttrs {
  const axis = numberAttr(op, 'axis', attrs.axis, { integer: true, min: 0, max: shape.length - 1 });
  const len = shape[axis]!;
  const begin = numberAttr(op, 'begin', attrs.begin, { integer: true, min: 0, max: len });
  const end = numberAttr(op, 'end', attrs.end, { integer: true, min: begin, max: len });
  return { axis, begin, end };
}

export const sliceOp: OpDef = {
  name: 'slice',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('slice', inputs, 1);
    const x = inputs[0]!;
    requireDType('slice', 'x', x, ['f32', 'bf16', 'i32']);
    if (x.shape.length === 0) throw shapeMismatch('slice', 'x must have rank >= 1', 'rank >= 1', shapeText(x.shape));
    const { axis, begin, end } = checkSlice('slice', x.shape, attrs);
    const shape = [...x.shape];
    shape[axis] = end - begin;
    return [{ shape, dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const x = ctx.node.inputs[0]!;
    const a = ctx.node.attrs as unknown as SliceAttrs;
    return [ctx.g.apply('slice_grad', [dy], { axis: a.axis, begin: a.begin, length: x.shape[a.axis] })];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    // A slice the windows pass made a view of x: its readers address x's memory themselves.
    if (ctx.aliased(node.outputs[0]!)) return;
    const x = node.inputs[0] as Value;
    const a = node.attrs as unknown as SliceAttrs;
    const { outer, length, inner } = axisParts(x.shape, a.axis);
    const cols = (a.end - a.begin) * inner;
    emitStridedCopy(ctx, x.dtype, outer, cols, shiftView(ctx.view(x), a.begin * inner, x.dtype), length * inner, ctx.view(node.outputs[0]!), cols);
  },
};

/** slice_grad(dy, axis, begin, length): zeros of the sliced tensor's shape with dy at [begin, begin + n). */
export const sliceGradOp: OpDef = {
  name: 'slice_grad',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('slice_grad', inputs, 1);
    const dy = inputs[0]!;
    const axis = numberAttr('slice_grad', 'axis', attrs.axis, { integer: true, min: 0, max: dy.shape.length - 1 });
    const length = numberAttr('slice_grad', 'length', attrs.length, { integer: true, min: dy.shape[axis]! });
    numberAttr('slice_grad', 'begin', attrs.begin, { integer: true, min: 0, max: length - dy.shape[axis]! });
    const shape = [...dy.shape];
    shape[axis] = length;
    return [{ shape, dtype: dy.dtype }];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const dy = node.inputs[0] as Value;
    const dx = node.outputs[0]!;
    const axis = node.attrs.axis as number;
    const begin = node.attrs.begin as number;
    const { outer, length, inner } = axisParts(dx.shape, axis);
    const cols = dy.shape[axis]! * inner;
    emitZeros(ctx, dx.dtype, numel(dx.shape), ctx.view(dx));
    emitStridedCopy(ctx, dx.dtype, outer, cols, ctx.view(dy), cols, shiftView(ctx.view(dx), begin * inner, dx.dtype), length * inner);
  },
};

export interface ScatterAttrs {
  axis: number;
  length: number;
  /** Where each input starts along `axis`; the ranges are disjoint. */
  begins: readonly number[];
}

/**
 * scatter_slices(dy_1, ..., dy_n): a tensor with each dy_i at [begins[i], begins[i] + n_i) along
 * `axis` and zeros elsewhere: the sum of slice_grads of disjoint slices, which the fusion pass
 * collapses into this (the gradient of q, k, v and the MLP input sliced from one fused projection).
 * When the pieces cover the axis, nothing is zero-filled: it is a concatenation.
 */
export const scatterSlicesOp: OpDef = {
  name: 'scatter_slices',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    const a = attrs as unknown as ScatterAttrs;
    if (inputs.length === 0 || a.begins?.length !== inputs.length) {
      throw shapeMismatch('scatter_slices', 'needs one begin per input', `${inputs.length} begins`, String(a.begins?.length));
    }
    const first = inputs[0]!;
    const axis = numberAttr('scatter_slices', 'axis', a.axis, { integer: true, min: 0, max: first.shape.length - 1 });
    const length = numberAttr('scatter_slices', 'length', a.length, { integer: true, min: 0 });
    const spans = inputs.map((t, i) => [a.begins[i]!, a.begins[i]! + t.shape[axis]!] as const).sort((x, y) => x[0] - y[0]);
    spans.forEach(([b, e], i) => {
      if (b < 0 || e > length || (i > 0 && b < spans[i - 1]![1])) {
        throw shapeMismatch('scatter_slices', 'pieces must be disjoint and inside the axis', `disjoint ranges in [0, ${length})`, JSON.stringify(spans));
      }
    });
    const shape = [...first.shape];
    shape[axis] = length;
    return [{ shape, dtype: first.dtype }];
  },
  cheap: true,
  lower(ctx: LowerContext, node: Node): void {
    const a = node.attrs as unknown as ScatterAttrs;
    const y = node.outputs[0]!;
    const { outer, length, inner } = axisParts(y.shape, a.axis);
    const covered = node.inputs.reduce((s, x) => s + x.shape[a.axis]!, 0) === length;
    if (!covered) emitZeros(ctx, y.dtype, numel(y.shape), ctx.view(y));
    node.inputs.forEach((x, i) => {
      if (ctx.placed(x)) return; // written in place by its producer (passes/windows.ts)
      const cols = x.shape[a.axis]! * inner;
      emitStridedCopy(ctx, y.dtype, outer, cols, ctx.view(x), cols, shiftView(ctx.view(y), a.begins[i]! * inner, y.dtype), length * inner);
    });
  },
};
