import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { count, requireShape, requireTensor, shapeError, shapeText } from './check';

/**
 * Counts correct predictions of logits [N, C] (f32 or bf16) for labels [N] (i32, in [0, C)) into
 * counts [2] (i32): counts[0] how many labels are the argmax, counts[1] how many are among the top
 * `k` (default 1). Ties between equal logits go to the lowest class index, as in an argmax that
 * keeps the first maximum; an example whose label logit is NaN is never counted.
 */
export function topkAccuracy(
  device: Device,
  logits: DeviceTensor,
  labels: DeviceTensor,
  counts: DeviceTensor,
  options: { k?: number } = {},
): void {
  const op = 'topk_accuracy';
  const { dtype } = requireTensor(logits, op, 'logits', ['f32', 'bf16']);
  if (logits.shape.length !== 2) throw shapeError(`${op} logits must be [N, C]`, '[N, C]', shapeText(logits.shape));
  const [n, c] = logits.shape as [number, number];
  if (c === 0 && n > 0) throw shapeError(`${op} needs at least one class`, '[N, C >= 1]', shapeText(logits.shape));
  requireShape(requireTensor(labels, op, 'labels', ['i32']), op, 'labels', [n]);
  requireShape(requireTensor(counts, op, 'counts', ['i32']), op, 'counts', [2]);
  const k = count(options.k, op, 'k', 1);
  if (k < 1) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option k must be at least 1`, { expected: 'k >= 1', received: String(k) });
  }
  device.native.launch(op, { dtype, n, c, k, logits: logits.buffer, labels: labels.buffer, counts: counts.buffer });
}
