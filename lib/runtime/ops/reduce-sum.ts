import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor } from './check';

function launch(device: Device, x: DeviceTensor, out: DeviceTensor, squares: boolean, op: string): void {
  const { dtype } = requireTensor(x, op, 'x', ['f32', 'bf16']);
  requireShape(requireTensor(out, op, 'out', ['f32']), op, 'out', [1]);
  device.native.launch('reduce_sum', { dtype, n: x.size, squares, x: x.buffer, out: out.buffer });
}

/**
 * out[0] = the sum of every element of x (f32 or bf16, any shape), accumulated in double over fixed
 * blocks: accurate for 10^8 elements and bitwise the same for any number of threads.
 */
export function reduceSum(device: Device, x: DeviceTensor, out: DeviceTensor): void {
  launch(device, x, out, false, 'reduceSum');
}

/** out[0] = the sum of squares of x, as reduceSum. */
export function sumOfSquares(device: Device, x: DeviceTensor, out: DeviceTensor): void {
  launch(device, x, out, true, 'sumOfSquares');
}
