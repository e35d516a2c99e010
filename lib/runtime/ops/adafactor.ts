import type { KernelSpec } from '../../kernels/spec';
import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { NativeBuffer } from '../native-types';
import type { DeviceTensor } from '../tensor';
import { count, requireShape, requireTensor, scalar } from './check';

/**
 * How Adafactor sees a parameter: a matrix [rows, cols] (a scalar or vector is [1, n]; a tensor of
 * rank > 2 is [product of the leading dims, last dim], where optax would factor its two largest
 * dims instead). Factored (row and column statistics instead of a full second moment) when both
 * dims are >= minDimToFactor, as in big_vision.
 */
export interface AdafactorLayout {
  rows: number;
  cols: number;
  factored: boolean;
}

export function adafactorLayout(shape: readonly number[], minDimToFactor = 32): AdafactorLayout {
  const last = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = shape.length < 2 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols: last, factored: shape.length >= 2 && rows >= minDimToFactor && last >= minDimToFactor };
}

/** The second-moment decay of big_vision's Adafactor at `step` (from 1): min(cap, 1 - step^-exponent). */
export function adafactorDecay(step: number, exponent = 0.8, cap = 0.999): number {
  return Math.min(cap, 1 - Math.pow(step, -exponent));
}

/**
 * A parameter and its Adafactor state. momentum has param's shape (bf16 in the recipe, or f32);
 * factored parameters carry vr [rows] and vc [cols], the others v (param's shape), all f32.
 */
export interface AdafactorTensors {
  param: DeviceTensor;
  grad: DeviceTensor;
  momentum: DeviceTensor;
  vr?: DeviceTensor;
  vc?: DeviceTensor;
  v?: DeviceTensor;
}

/** The scalars of one step (native/cpu/adafactor.cc writes out the formula). */
export interface AdafactorOptions {
  /** The step being taken, counting from 1: sets decay unless given. */
  step: number;
  /** The learning rate of the schedule at this step. */
  lr: number;
  /** This parameter's learning-rate multiplier. Default 1. */
  lrMult?: number;
  /** Decoupled weight decay, multiplied by lr (not by lrMult). Default 0. */
  weightDecay?: number;
  /** Momentum decay (no debiasing). Default 0.9. */
  beta1?: number;
  /** Second-moment decay. Default adafactorDecay(step) = min(0.999, 1 - step^-0.8). */
  decay?: number;
  /** Added to grad^2 (epsilon1). Default 1e-30. */
  eps?: number;
  /** The global-norm clip factor min(1, maxNorm / globalNorm). Default 1. */
  gradScale?: number;
  /** Block-RMS clipping of the update; 0 (the default, as in the ViT-22B recipe) is off. */
  clipThreshold?: number;
  /** Factor when both dims are at least this. Default 32. */
  minDimToFactor?: number;
}

function rangeError(name: string, expected: string, value: number): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `adafactor option ${name} is out of range`, { expected, received: String(value) });
}

/** One Adafactor step on one parameter, in place in param, momentum and the second moment. */
export function adafactor(device: Device, tensors: AdafactorTensors, options: AdafactorOptions): void {
  const op = 'adafactor';
  if (typeof tensors !== 'object' || tensors === null || typeof options !== 'object' || options === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'adafactor takes (device, tensors, options) objects', {
      expected: 'objects',
      received: `${typeof tensors}, ${typeof options}`,
    });
  }
  const param = requireTensor(tensors.param, op, 'param', ['f32']);
  const grad = requireTensor(tensors.grad, op, 'grad', ['f32', 'bf16']);
  const momentum = requireTensor(tensors.momentum, op, 'momentum', ['bf16', 'f32']);
  requireShape(grad, op, 'grad', param.shape);
  requireShape(momentum, op, 'momentum', param.shape);
  const layout = adafactorLayout(param.shape, count(options.minDimToFactor, op, 'minDimToFactor', 32));
  const step = count(options.step, op, 'step');
  if (step < 1) throw rangeError('step', 'an integer >= 1', step);
  const s = {
    lr: scalar(options.lr, op, 'lr', NaN),
    lrMult: scalar(options.lrMult, op, 'lrMult', 1),
    weightDecay: scalar(options.weightDecay, op, 'weightDecay', 0),
    beta1: scalar(options.beta1, op, 'beta1', 0.9),
    decay: scalar(options.decay, op, 'decay', adafactorDecay(step)),
    eps: scalar(options.eps, op, 'eps', 1e-30),
    gradScale: scalar(options.gradScale, op, 'gradScale', 1),
    clipThreshold: scalar(options.clipThreshold, op, 'clipThreshold', 0),
  };
  for (const name of ['beta1', 'decay'] as const) {
    if (!(s[name] >= 0 && s[name] < 1)) throw rangeError(name, 'a number in [0, 1)', s[name]);
  }
  for (const name of ['lr', 'lrMult', 'weightDecay', 'gradScale', 'clipThreshold'] as const) {
    if (!(s[name] >= 0)) throw rangeError(name, 'a finite number >= 0', s[name]);
  }
  if (!(s.eps > 0)) throw rangeError('eps', 'a finite number > 0', s.eps);

  let second: Pick<KernelSpec<'adafactor', NativeBuffer>, 'vr' | 'vc' | 'v'>;
  if (layout.factored) {
    const vr = requireTensor(tensors.vr, op, 'vr', ['f32']);
    const vc = requireTensor(tensors.vc, op, 'vc', ['f32']);
    requireShape(vr, op, 'vr', [layout.rows]);
    requireShape(vc, op, 'vc', [layout.cols]);
    if (tensors.v !== undefined) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'adafactor v must be absent for a factored parameter', {
        expected: 'vr and vc only',
        received: 'v',
      });
    }
    second = { vr: vr.buffer, vc: vc.buffer };
  } else {
    const v = requireTensor(tensors.v, op, 'v', ['f32']);
    requireShape(v, op, 'v', param.shape);
    if (tensors.vr !== undefined || tensors.vc !== undefined) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', 'adafactor vr and vc must be absent for an unfactored parameter', {
        expected: 'v only',
        received: 'vr/vc',
      });
    }
    second = { v: v.buffer };
  }
  device.native.launch('adafactor', {
    ...layout,
    gradType: grad.dtype,
    momentumType: momentum.dtype,
    param: param.buffer,
    grad: grad.buffer,
    momentum: momentum.buffer,
    ...second,
    ...s,
  });
}
