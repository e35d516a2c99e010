/**
 * Lowering helpers for the data-movement ops (slice, concat, broadcast): a tensor seen as
 * [outer, axis, inner] is cut or joined along `axis` by the strided_copy kernel, one run of
 * (axis part x inner) elements per outer index.
 */
import { DTYPE_BYTES } from '../../runtime/dtype';
import type { PlanView } from '../../runtime/plan-format';
import type { LowerContext } from '../op-def';
import type { DType, Shape } from '../types';
import { numel } from '../types';
import { storageOf } from './check';

export function axisParts(shape: Shape, axis: number) {
  return { outer: numel(shape.slice(0, axis)), length: shape[axis]!, inner: numel(shape.slice(axis + 1)) };
}

/** `view` starting `elements` elements later. */
export function shiftView(view: PlanView, elements: number, dtype: DType): PlanView {
  const bytes = elements * DTYPE_BYTES[dtype];
  return { slot: view.slot, offset: view.offset + bytes, bytes: view.bytes - bytes };
}

export function emitStridedCopy(
  ctx: LowerContext,
  dtype: DType,
  batch: number,
  cols: number,
  x: PlanView,
  xStride: number,
  y: PlanView,
  yStride: number,
): void {
  ctx.emit('strided_copy', { dtype: storageOf('strided_copy', 'dtype', dtype, ['f32', 'bf16', 'i32']), batch, cols, x, xStride, y, yStride });
}

/** Zeros over a whole value (the random_init kernel's constant fill). */
export function emitZeros(ctx: LowerContext, dtype: DType, n: number, out: PlanView): void {
  ctx.emit('random_init', { dtype: storageOf('random_init', 'dtype', dtype), dist: 'constant', seed: 0, offset: 0, start: 0, n, a: 0, b: 0, out });
}
