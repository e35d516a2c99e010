/**
 * axis_slice(x, dim, segments) over a mesh axis: this rank's block of dimension `dim` of a tensor
 * every rank holds whole (each segment cut `ranks` ways, the rank's piece of each kept in order).
 * The same plan runs on every rank, so the block's place is read from the device's coordinates when
 * the kernel runs, not written into the plan. Its gradient gathers the blocks back into the whole
 * dimension (all_gather and a re-layout): each rank's gradient covers only its own block.
 */
import { Vit22bError } from '../../runtime/errors';
import type { Node, Value } from '../ir';
import type { Attrs, GradContext, LowerContext, OpDef } from '../op-def';
import { gatherDim } from '../sharding-layouts';
import { shapeText, type TensorType } from '../types';
import { numberAttr, requireArity, requireDType, storageOf } from './check';
import { collectiveAttrs, type CollectiveAttrs } from './collective-attrs';
import { axisParts, shiftView } from './strided';

export interface AxisSliceAttrs extends CollectiveAttrs {
  dim: number;
  /** Global sizes of the dimension's segments (default: the whole dimension). */
  segments?: readonly number[];
}

function segmentsOf(attrs: AxisSliceAttrs, size: number): readonly number[] {
  return attrs.segments ?? [size];
}

export const axisSliceOp: OpDef = {
  name: 'axis_slice',
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('axis_slice', inputs, 1);
    const x = inputs[0]!;
    requireDType('axis_slice', 'x', x, ['f32', 'bf16']);
    const { ranks } = collectiveAttrs('axis_slice', attrs);
    const dim = numberAttr('axis_slice', 'dim', attrs.dim, { integer: true, min: 0, max: x.shape.length - 1 });
    const segments = segmentsOf(attrs as unknown as AxisSliceAttrs, x.shape[dim]!);
    const total = segments.reduce((a, b) => a + b, 0);
    if (total !== x.shape[dim] || segments.some((s) => s % ranks !== 0)) {
      throw new Vit22bError('ERR_SHAPE_MISMATCH', `axis_slice: dimension ${dim} of ${shapeText(x.shape)} does not split into segments [${segments.join(', ')}] of ${ranks} blocks each`, {
        expected: `segments adding up to ${x.shape[dim]}, each a multiple of ${ranks}`,
        received: `[${segments.join(', ')}]`,
      });
    }
    const shape = [...x.shape];
    shape[dim] = x.shape[dim]! / ranks;
    return [{ shape, dtype: x.dtype }];
  },
  grad(ctx: GradContext): (Value | null)[] {
    const dy = ctx.dy[0];
    if (!dy || !ctx.needs[0]) return [null];
    const a = ctx.node.attrs as unknown as AxisSliceAttrs;
    return [gatherDim(ctx.g, dy, a.dim, a.axis, a.ranks, segmentsOf(a, ctx.node.inputs[0]!.shape[a.dim]!))];
  },
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    const y = node.outputs[0]!;
    const a = node.attrs as unknown as AxisSliceAttrs;
    const { outer, length, inner } = axisParts(x.shape, a.dim);
    const local = length / a.ranks;
    const dtype = storageOf('axis_slice', 'x', x.dtype);
    let globalOffset = 0;
    let localOffset = 0;
    // One launch per segment: rank r copies columns [r * s/ranks, (r + 1) * s/ranks) of it.
    for (const s of segmentsOf(a, length)) {
      const cols = (s / a.ranks) * inner;
      ctx.emit('axis_slice', {
        axis: a.axis,
        ranks: a.ranks,
        dtype,
        batch: outer,
        cols,
        xStride: length * inner,
        yStride: local * inner,
        x: shiftView(ctx.view(x), globalOffset * inner, x.dtype),
        y: shiftView(ctx.view(y), localOffset * inner, y.dtype),
      });
      globalOffset += s;
      localOffset += s / a.ranks;
    }
  },
};
