/** Options shared by the cross-entropy wrappers (softmax-xent.ts, sigmoid-xent.ts). */
import { Vit22bError } from '../errors';
import { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, scalar } from './check';

/** Label smoothing epsilon: a number in [0, 1], default 0. */
export function smoothing(value: unknown, op: string): number {
  const eps = scalar(value, op, 'labelSmoothing', 0);
  if (eps < 0 || eps > 1) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option labelSmoothing must be in [0, 1]`, {
      expected: 'a number in [0, 1]',
      received: String(eps),
    });
  }
  return eps;
}

/** The optional gradient output: absent, or a tensor of the logits' dtype and shape. */
export function optionalOutput(value: unknown, op: string, logits: DeviceTensor): DeviceTensor | undefined {
  if (value === undefined) return undefined;
  const t = requireTensor(value, op, 'dlogits', [logits.dtype]);
  requireShape(t, op, 'dlogits', logits.shape);
  return t;
}
