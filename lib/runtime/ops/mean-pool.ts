import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireSameDType, requireShape, requireTensor, shapeError, shapeText } from './check';

/** x's dtype and its [B, T, D]. */
function dims(x: DeviceTensor, op: string, name: string): ['f32' | 'bf16', number, number, number] {
  const { dtype } = requireTensor(x, op, name, ['f32', 'bf16']);
  if (x.shape.length !== 3 || x.shape[1] === 0) {
    throw shapeError(`${op} ${name} must be [B, T >= 1, D]`, '[B, T, D]', shapeText(x.shape));
  }
  const [b, t, d] = x.shape as [number, number, number];
  return [dtype, b, t, d];
}

/** y[b, d] = mean over t of x[b, t, d]; x [B, T, D] and y [B, D] of one dtype (f32 or bf16). */
export function meanPool(device: Device, x: DeviceTensor, y: DeviceTensor): void {
  const [dtype, b, t, d] = dims(x, 'meanPool', 'x');
  requireTensor(y, 'meanPool', 'y', ['f32', 'bf16']);
  requireSameDType(x, y, 'meanPool', 'x and y');
  requireShape(y, 'meanPool', 'y', [b, d]);
  device.native.launch('mean_pool', { dtype, b, t, d, x: x.buffer, y: y.buffer });
}

/** The backward of meanPool: dx[b, t, d] = dy[b, d] / T; dy [B, D], dx [B, T, D]. */
export function meanPoolBackward(device: Device, dy: DeviceTensor, dx: DeviceTensor): void {
  const [dtype, b, t, d] = dims(dx, 'meanPoolBackward', 'dx');
  requireTensor(dy, 'meanPoolBackward', 'dy', ['f32', 'bf16']);
  requireSameDType(dx, dy, 'meanPoolBackward', 'dy and dx');
  requireShape(dy, 'meanPoolBackward', 'dy', [b, d]);
  device.native.launch('mean_pool_bwd', { dtype, b, t, d, dy: dy.buffer, dx: dx.buffer });
}
