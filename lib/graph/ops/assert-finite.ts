/**
 * assert_finite(x f32): no output; the run fails with ERR_NON_FINITE when any element of x is NaN
 * or infinite. The training step guards the loss and the gradient norm with it, scheduled before
 * the optimizer update, so a bad batch rejects the run while parameters and optimizer state are
 * still untouched (an effect: never removed, never recomputed).
 */
import { Vit22bError } from '../../runtime/errors';
import type { Node, Value } from '../ir';
import type { Attrs, LowerContext, OpDef } from '../op-def';
import { numel, type TensorType } from '../types';
import { requireArity, requireDType } from './check';

/** The attribute `what`, the name of the guarded value: a non-empty string. */
function whatOf(attrs: Attrs): string {
  const what = attrs.what;
  if (typeof what !== 'string' || what === '') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'assert_finite: attribute what must name the value', {
      expected: 'a non-empty string',
      received: String(what),
    });
  }
  return what;
}

export const assertFiniteOp: OpDef = {
  name: 'assert_finite',
  effect: true,
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType[] {
    requireArity('assert_finite', inputs, 1);
    requireDType('assert_finite', 'x', inputs[0]!, ['f32']);
    whatOf(attrs);
    return [];
  },
  lower(ctx: LowerContext, node: Node): void {
    const x = node.inputs[0] as Value;
    ctx.emit('assert_finite', { x: ctx.view(x), n: numel(x.shape), what: whatOf(node.attrs) });
  },
};
