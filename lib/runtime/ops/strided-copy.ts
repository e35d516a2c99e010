import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { requireSameDType, requireTensor } from './check';

export interface StridedCopyOptions {
  /** Runs to copy. */
  batch: number;
  /** Contiguous elements per run. */
  cols: number;
  /** Elements between the starts of consecutive runs in x (0: every run reads the same x). */
  xStride: number;
  /** Elements between the starts of consecutive runs in y (>= cols). */
  yStride: number;
}

/**
 * Copies `batch` runs of `cols` elements from x (run i at i * xStride) to y (run i at i * yStride):
 * slices, concatenations and broadcasts along any axis. f32, bf16 or i32; x and y share the dtype.
 */
export function stridedCopy(device: Device, x: DeviceTensor, y: DeviceTensor, o: StridedCopyOptions): void {
  const { dtype } = requireTensor(x, 'stridedCopy', 'x', ['f32', 'bf16', 'i32']);
  requireTensor(y, 'stridedCopy', 'y', ['f32', 'bf16', 'i32']);
  requireSameDType(x, y, 'stridedCopy', 'x and y');
  if (typeof o !== 'object' || o === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'stridedCopy takes { batch, cols, xStride, yStride }', {
      expected: 'an options object',
      received: String(o),
    });
  }
  device.native.launch('strided_copy', { dtype, ...o, x: x.buffer, y: y.buffer });
}
