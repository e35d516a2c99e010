import type { RecordSpec } from '../../kernels/spec';
import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { NativeBuffer } from '../native-types';
import type { DeviceTensor } from '../tensor';
import { count, requireShape, requireTensor, scalar } from './check';

/** One parameter with its AdamW state: param, m and v f32, grad f32 or bf16, all of param's shape. */
export interface AdamwTensors {
  param: DeviceTensor;
  grad: DeviceTensor;
  m: DeviceTensor;
  v: DeviceTensor;
}

/**
 * The scalars of one AdamW step, as torch.optim.AdamW uses them (defaults are PyTorch's):
 *   g = gradScale * grad;  param *= 1 - lr * weightDecay
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * gradScale applies global-norm clipping in the same pass: min(1, maxNorm / globalNorm).
 */
export interface AdamwOptions {
  /** The step being taken, counting from 1 (bias corrections). */
  step: number;
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay, multiplied by lr. Default 0.01. */
  weightDecay?: number;
  /** Multiplies the gradient before anything else. Default 1. */
  gradScale?: number;
}

// The spec fields of the declarations' records (lib/kernels/records.ts), not a copy of them.
type AdamwHyperSpec = RecordSpec<'AdamwHyper', NativeBuffer>;
type AdamwTensorSpec = RecordSpec<'AdamwTensor', NativeBuffer>;

function rangeError(op: string, name: string, expected: string, value: number): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option ${name} is out of range`, {
    expected,
    received: String(value),
  });
}

function hyperSpec(op: string, options: AdamwOptions): AdamwHyperSpec {
  if (typeof options !== 'object' || options === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} options must be an object`, {
      expected: '{ step, lr, ... }',
      received: String(options),
    });
  }
  const step = count(options.step, op, 'step');
  if (step < 1) throw rangeError(op, 'step', 'an integer >= 1', step);
  const h: AdamwHyperSpec = {
    step,
    lr: scalar(options.lr, op, 'lr', NaN),
    beta1: scalar(options.beta1, op, 'beta1', 0.9),
    beta2: scalar(options.beta2, op, 'beta2', 0.999),
    eps: scalar(options.eps, op, 'eps', 1e-8),
    weightDecay: scalar(options.weightDecay, op, 'weightDecay', 0.01),
    gradScale: scalar(options.gradScale, op, 'gradScale', 1),
  };
  for (const name of ['beta1', 'beta2'] as const) {
    if (!(h[name] >= 0 && h[name] < 1)) throw rangeError(op, name, 'a number in [0, 1)', h[name]);
  }
  for (const name of ['lr', 'eps', 'weightDecay', 'gradScale'] as const) {
    if (!(h[name] >= 0)) throw rangeError(op, name, 'a finite number >= 0', h[name]);
  }
  return h;
}

function tensorSpec(op: string, t: AdamwTensors, where: string): AdamwTensorSpec {
  if (typeof t !== 'object' || t === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} ${where} must be { param, grad, m, v }`, {
      expected: '{ param, grad, m, v }',
      received: String(t),
    });
  }
  const param = requireTensor(t.param, op, `${where}param`, ['f32']);
  const grad = requireTensor(t.grad, op, `${where}grad`, ['f32', 'bf16']);
  const m = requireTensor(t.m, op, `${where}m`, ['f32']);
  const v = requireTensor(t.v, op, `${where}v`, ['f32']);
  for (const [x, name] of [[grad, 'grad'], [m, 'm'], [v, 'v']] as const) requireShape(x, op, where + name, param.shape);
  return { n: param.size, gradType: grad.dtype, param: param.buffer, grad: grad.buffer, m: m.buffer, v: v.buffer };
}

/** One AdamW step on one parameter, in place in param, m and v. */
export function adamw(device: Device, tensors: AdamwTensors, options: AdamwOptions): void {
  const spec = { ...hyperSpec('adamw', options), ...tensorSpec('adamw', tensors, '') };
  device.native.launch('adamw', spec);
}

/** One AdamW step on many parameters in a single kernel call (the same scalars for all). */
export function adamwMulti(device: Device, list: readonly AdamwTensors[], options: AdamwOptions): void {
  if (!Array.isArray(list)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'adamwMulti takes an array of { param, grad, m, v }', {
      expected: 'array',
      received: typeof list,
    });
  }
  const tensors = list.map((t, i) => tensorSpec('adamw_multi', t, `tensors[${i}].`));
  device.native.launch('adamw_multi', { ...hyperSpec('adamw_multi', options), tensors });
}
