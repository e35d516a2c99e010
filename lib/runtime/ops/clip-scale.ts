import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor } from './check';

/** The largest finite f32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * The global-norm clip factor, on the device: scale[0] = norm[0] > maxNorm ? maxNorm / norm[0] : 1
 * (f32 arithmetic). `norm` and `scale` are distinct f32 tensors of shape [1]; `maxNorm` > 0. A
 * non-finite norm gives NaN, so an overflowed gradient shows up in the update instead of being
 * clipped to something finite. Feed `scale` to AdamW's or Adafactor's gradScale in a plan with
 * { read: view }.
 */
export function clipScale(device: Device, norm: DeviceTensor, scale: DeviceTensor, maxNorm: number): void {
  const op = 'clipScale';
  requireShape(requireTensor(norm, op, 'norm', ['f32']), op, 'norm', [1]);
  requireShape(requireTensor(scale, op, 'scale', ['f32']), op, 'scale', [1]);
  if (typeof maxNorm !== 'number' || !(maxNorm > 0) || !(Math.fround(maxNorm) > 0) || maxNorm > F32_MAX) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} maxNorm must be a positive finite f32`, {
      expected: 'a number in (0, 3.4e38] that stays positive in f32',
      received: String(maxNorm),
    });
  }
  device.native.launch('clip_scale', { norm: norm.buffer, maxNorm, scale: scale.buffer });
}
