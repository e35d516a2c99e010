import type { Device } from '../device';
import type { DeviceTensor } from '../tensor';
import { requireShape, requireTensor, scalar, shapeError, shapeText } from './check';
import { optionalOutput, smoothing } from './loss-options';
import type { CrossEntropyOptions } from './softmax-xent';

/**
 * Sigmoid (multi-label) cross-entropy of logits [N, C] (f32 or bf16) against targets [N, C] (f32,
 * each in [0, 1]): every class is a binary problem with the smoothed target (1 - eps) * t + eps / 2.
 * Writes the per-example loss [N] (f32, summed over classes) and, when `dlogits` is given, the
 * gradient of dscale * mean(loss): (sigmoid(x) - t') * dscale / N. Stable for any |logit|.
 */
export function sigmoidCrossEntropy(
  device: Device,
  logits: DeviceTensor,
  targets: DeviceTensor,
  loss: DeviceTensor,
  options: CrossEntropyOptions = {},
): void {
  const op = 'sigmoid_xent';
  const { dtype } = requireTensor(logits, op, 'logits', ['f32', 'bf16']);
  if (logits.shape.length !== 2) throw shapeError(`${op} logits must be [N, C]`, '[N, C]', shapeText(logits.shape));
  const [n, c] = logits.shape as [number, number];
  requireShape(requireTensor(targets, op, 'targets', ['f32']), op, 'targets', [n, c]);
  requireShape(requireTensor(loss, op, 'loss', ['f32']), op, 'loss', [n]);
  const dlogits = optionalOutput(options.dlogits, op, logits);
  device.native.launch(op, {
    dtype,
    n,
    c,
    epsilon: smoothing(options.labelSmoothing, op),
    dscale: scalar(options.dscale, op, 'dscale', 1),
    logits: logits.buffer,
    targets: targets.buffer,
    loss: loss.buffer,
    ...(dlogits ? { dlogits: dlogits.buffer } : {}),
  });
}
