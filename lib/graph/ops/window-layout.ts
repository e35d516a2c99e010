/**
 * How the lowerings that read or write windows (passes/windows.ts) describe them to kernels. Each
 * op pairs a `fits` predicate (its OpDef.windowInput / windowOutput) with the layout helper here
 * that it then calls, so the pass never hands a kernel a window it cannot address.
 */
import { Vit22bError } from '../../runtime/errors';
import type { PlanView } from '../../runtime/plan-format';
import type { Value } from '../ir';
import type { LowerContext, Window } from '../op-def';

function unfit(v: Value, what: string, w: Window): Vit22bError {
  return new Vit22bError('ERR_INTERNAL', `value %${v.id} is in a window its reader cannot address (${what})`, {
    expected: what,
    received: JSON.stringify(w),
  });
}

/** Rows of exactly `cols` elements (GELU, the bias gradient): a single row stride. */
export const rowsFit = (rowLen: number, cols: number) => rowLen === cols;

/** `v` as rows of `cols` elements: its memory and the stride between rows (cols when dense). */
export function rowsOf(ctx: LowerContext, v: Value, cols: number): { view: PlanView; stride: number } {
  const { view, window } = ctx.strided(v);
  if (!window) return { view, stride: cols };
  if (!rowsFit(window.rowLen, cols)) throw unfit(v, `rows of ${cols}`, window);
  return { view, stride: window.rowStride };
}

/** Rows of `dim` grouped whole into window rows (the per-head QK-norm's rows of Dh in rows of D). */
export const groupsFit = (rowLen: number, dim: number) => dim > 0 && rowLen % dim === 0;

/** The kernels' RowLayout: row r at (r / groupRows) * groupStride + (r % groupRows) * dim. */
export interface RowLayout {
  groupRows: number;
  groupStride: number;
}

/** `v` as rows of `dim`: its memory and, for a window, the grouped layout (undefined: dense). */
export function groupedRowsOf(ctx: LowerContext, v: Value, dim: number): { view: PlanView; layout?: RowLayout } {
  const { view, window } = ctx.strided(v);
  if (!window) return { view };
  if (!groupsFit(window.rowLen, dim)) throw unfit(v, `whole rows of ${dim}`, window);
  return { view, layout: { groupRows: window.rowLen / dim, groupStride: window.rowStride } };
}

/** An attention operand [B, T, D] in window rows of one token (D) or one image (T * D). */
export const headsFit = (rowLen: number, t: number, d: number) => rowLen === d || rowLen === t * d;

/** The kernel's view of a [B, T, H, Dh] attention operand, dense or in a window. */
export function headOperand(ctx: LowerContext, v: Value, t: number, d: number, headDim: number) {
  const { view, window } = ctx.strided(v);
  if (!window) return { buffer: view, offset: 0, batchStride: t * d, tokenStride: d, headStride: headDim };
  if (window.rowLen === d) return { buffer: view, offset: 0, batchStride: t * window.rowStride, tokenStride: window.rowStride, headStride: headDim };
  if (window.rowLen === t * d) return { buffer: view, offset: 0, batchStride: window.rowStride, tokenStride: d, headStride: headDim };
  throw unfit(v, `rows of ${d} or ${t * d}`, window);
}
