import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { requireTensor } from './check';

/**
 * Throws ERR_NON_FINITE when any element of the f32 tensor `x` is NaN or infinite; `what` names it
 * in the message ("loss", "gradNorm"). The training step runs this kernel inside its plan, before the
 * optimizer update; this entry runs it on its own.
 */
export function assertFinite(device: Device, x: DeviceTensor, what = 'value'): void {
  requireTensor(x, 'assertFinite', 'x', ['f32']);
  if (typeof what !== 'string' || what === '') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'assertFinite what must name the value', { expected: 'a non-empty string', received: String(what) });
  }
  device.native.launch('assert_finite', { x: x.buffer, n: x.size, what });
}
