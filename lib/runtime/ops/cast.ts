import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor } from './check';

/**
 * y = x converted to y's dtype (f32 <-> bf16; equal dtypes copy). f32 -> bf16 rounds to nearest,
 * ties to even, and keeps NaNs NaN; bf16 -> f32 is exact. x and y have the same shape.
 */
export function cast(device: Device, x: DeviceTensor, y: DeviceTensor): void {
  const from = requireTensor(x, 'cast', 'x', ['f32', 'bf16']).dtype;
  const to = requireTensor(y, 'cast', 'y', ['f32', 'bf16']).dtype;
  requireShape(y, 'cast', 'y', x.shape);
  device.native.launch('cast', { from, to, n: x.size, x: x.buffer, y: y.buffer });
}
