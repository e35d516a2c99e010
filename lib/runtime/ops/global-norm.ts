import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor } from './check';

/**
 * out[0] = sqrt(sum of squares of every element of every tensor in `tensors`): the global gradient
 * norm (for clipping) over many tensors of mixed sizes and dtypes (f32, bf16) in one call.
 * Deterministic for any number of threads.
 */
export function globalNorm(device: Device, tensors: readonly DeviceTensor[], out: DeviceTensor): void {
  const op = 'globalNorm';
  if (!Array.isArray(tensors)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} tensors must be an array of DeviceTensors`, {
      expected: 'DeviceTensor[]',
      received: typeof tensors,
    });
  }
  tensors.forEach((t, i) => requireTensor(t, op, `tensors[${i}]`, ['f32', 'bf16']));
  requireShape(requireTensor(out, op, 'out', ['f32']), op, 'out', [1]);
  device.native.launch('global_norm', {
    buffers: tensors.map((t) => t.buffer),
    dtypes: tensors.map((t) => t.dtype),
    sizes: tensors.map((t) => t.size),
    out: out.buffer,
  });
}
