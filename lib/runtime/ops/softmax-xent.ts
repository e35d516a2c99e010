import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, scalar, shapeError, shapeText } from './check';
import { optionalOutput, smoothing } from './loss-options';

export interface CrossEntropyOptions {
  /** [N, C], the logits' dtype: receives (probabilities - smoothed targets) * dscale / N. */
  dlogits?: DeviceTensor;
  /** Label smoothing epsilon in [0, 1]; default 0. */
  labelSmoothing?: number;
  /** Scale of the gradient (the loss scale, or the upstream gradient of the mean loss); default 1. */
  dscale?: number;
}

/**
 * Softmax cross-entropy of logits [N, C] (f32 or bf16) against integer labels [N] (i32, each in
 * [0, C)) with label smoothing: the smoothed target is (1 - eps) * onehot + eps / C. Writes the
 * per-example loss [N] (f32) and, when `dlogits` is given, the gradient of dscale * mean(loss).
 * Numerically stable for any finite logits (the row max is subtracted).
 */
export function softmaxCrossEntropy(
  device: Device,
  logits: DeviceTensor,
  labels: DeviceTensor,
  loss: DeviceTensor,
  options: CrossEntropyOptions = {},
): void {
  const op = 'softmax_xent';
  const { dtype } = requireTensor(logits, op, 'logits', ['f32', 'bf16']);
  if (logits.shape.length !== 2) throw shapeError(`${op} logits must be [N, C]`, '[N, C]', shapeText(logits.shape));
  const [n, c] = logits.shape as [number, number];
  if (c === 0 && n > 0) throw shapeError(`${op} needs at least one class`, '[N, C >= 1]', shapeText(logits.shape));
  requireShape(requireTensor(labels, op, 'labels', ['i32']), op, 'labels', [n]);
  requireShape(requireTensor(loss, op, 'loss', ['f32']), op, 'loss', [n]);
  const dlogits = optionalOutput(options.dlogits, op, logits);
  device.native.launch(op, {
    dtype,
    n,
    c,
    epsilon: smoothing(options.labelSmoothing, op),
    dscale: scalar(options.dscale, op, 'dscale', 1),
    logits: logits.buffer,
    labels: labels.buffer,
    loss: loss.buffer,
    ...(dlogits ? { dlogits: dlogits.buffer } : {}),
  });
}
