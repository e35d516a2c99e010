/**
 * Kernel-launch fragments several lowerings share: copying a value into another buffer and scaling
 * in place, both through the axpby kernel (y = alpha x + beta y; beta 0 never reads y).
 */
import type { PlanScalar, PlanView } from '../../runtime/plan-format';
import type { LowerContext } from '../op-def';
import type { StorageDType } from './check';

/** dst = src over n elements of dtype (f32 | bf16). */
export function emitCopy(ctx: LowerContext, dtype: StorageDType, n: number, src: PlanView, dst: PlanView): void {
  emitAxpby(ctx, dtype, n, 1, src, 0, dst);
}

/** y = alpha x + beta y. */
export function emitAxpby(
  ctx: LowerContext,
  dtype: StorageDType,
  n: number,
  alpha: PlanScalar,
  x: PlanView,
  beta: PlanScalar,
  y: PlanView,
): void {
  ctx.emit('axpby', { dtype, n, alpha, x, beta, y });
}
