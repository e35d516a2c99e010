/**
 * LayerNorm and RMSNorm over the last dimension (native kernels layer_norm_fwd / layer_norm_bwd).
 * x is [..., D] with any leading shape: [B, T, D] for the block norms, [B, T, H, Dh] for the
 * per-head QK norms (one scale [Dh] shared by every head). Statistics and sums are f32.
 * These wrappers take dense tensors; the kernels also read and write rows at strided places
 * (spec fields xLayout, yLayout, dyLayout, dxLayout, dresidualLayout: lib/kernels/records.ts RowLayout), which
 * plans and raw `device.native.launch` specs use.
 */
import type { Device } from '../device';
import { Vit22bError } from '../errors';
import { DeviceTensor } from '../tensor';
import { flag, requireSameDType, requireShape, requireTensor, scalar, shapeError, shapeText, type TensorOf } from './check';

export interface LayerNormOptions {
  /** Subtract the row mean (LayerNorm, the default); false is RMSNorm, the ViT-22B norms. */
  center?: boolean;
  /** Added to the variance before the square root; a positive finite number, default 1e-6. */
  eps?: number;
  /** [D], the dtype of scale; added after scaling. ViT-22B norms have none. */
  bias?: DeviceTensor;
  /** f32, x's shape without its last dimension: the row means, saved for the backward (center only). */
  mean?: DeviceTensor;
  /** f32, x's shape without its last dimension: 1 / sqrt(var + eps), saved for the backward. */
  rstd?: DeviceTensor;
}

export interface LayerNormBackwardInputs {
  /** The forward's input, [..., D]. */
  x: DeviceTensor;
  /** [D], f32 or bf16. */
  scale: DeviceTensor;
  /** The gradient of the forward's output, x's shape and dtype. */
  dy: DeviceTensor;
  /** Saved by the forward (f32, x's shape without its last dimension); mean only when centering. */
  mean?: DeviceTensor;
  rstd: DeviceTensor;
  /**
   * x's shape and dtype: a gradient added to dx in the same pass (f32 sum, one rounding), the
   * residual branch of a block x + f(norm(x)). May be grads.dx itself (accumulates in place).
   */
  dresidual?: DeviceTensor;
}

export interface LayerNormGrads {
  /** x's shape and dtype. */
  dx: DeviceTensor;
  /** [D] f32, overwritten with the sum over rows. */
  dscale: DeviceTensor;
  /** [D] f32, overwritten with the sum over rows; give it when the forward had a bias. */
  dbias?: DeviceTensor;
}

const STORAGE = ['f32', 'bf16'] as const;

/** Checks x [..., D] and returns [rows, D]. */
function rowsOf(x: DeviceTensor, op: string): [number, number] {
  if (x.shape.length === 0) {
    throw shapeError(`${op} x needs a last dimension to normalize over`, '[..., D]', shapeText(x.shape));
  }
  const dim = x.shape[x.shape.length - 1]!;
  return [dim === 0 ? 0 : x.size / dim, dim];
}

function requireParam<D extends 'f32' | 'bf16'>(t: unknown, op: string, name: string, dim: number, dtypes: readonly D[]): TensorOf<D> {
  const p = requireTensor(t, op, name, dtypes);
  requireShape(p, op, name, [dim]);
  return p;
}

function requireStats(t: unknown, op: string, name: string, x: DeviceTensor): DeviceTensor {
  const s = requireTensor(t, op, name, ['f32']);
  requireShape(s, op, name, x.shape.slice(0, -1));
  return s;
}

function optional<T>(value: T | undefined, check: (v: T) => DeviceTensor): DeviceTensor | undefined {
  return value === undefined ? undefined : check(value);
}

/** y = (x - mean) * rstd * scale (+ bias) over the last dimension; with center false, RMSNorm. */
export function layerNorm(device: Device, x: DeviceTensor, scale: DeviceTensor, y: DeviceTensor, options: LayerNormOptions = {}): void {
  const op = 'layerNorm';
  const { dtype } = requireTensor(x, op, 'x', STORAGE);
  const [rows, dim] = rowsOf(x, op);
  const s = requireParam(scale, op, 'scale', dim, STORAGE);
  requireTensor(y, op, 'y', STORAGE);
  requireSameDType(x, y, op, 'x and y');
  requireShape(y, op, 'y', x.shape);
  const center = options.center === undefined ? true : flag(options.center, op, 'center');
  const eps = scalar(options.eps, op, 'eps', 1e-6);
  if (!(Math.fround(eps) > 0)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option eps must be positive in f32`, {
      expected: 'eps > 0 (and not below the f32 range)',
      received: String(eps),
    });
  }
  const bias = optional(options.bias, (b) => requireParam(b, op, 'bias', dim, STORAGE));
  if (bias) requireSameDType(s, bias, op, 'scale and bias');
  const mean = optional(options.mean, (m) => requireStats(m, op, 'mean', x));
  const rstd = optional(options.rstd, (r) => requireStats(r, op, 'rstd', x));
  device.native.launch('layer_norm_fwd', {
    dtype,
    paramType: s.dtype,
    rows,
    dim,
    eps,
    center,
    x: x.buffer,
    scale: s.buffer,
    y: y.buffer,
    ...(bias ? { bias: bias.buffer } : {}),
    ...(mean ? { mean: mean.buffer } : {}),
    ...(rstd ? { rstd: rstd.buffer } : {}),
  });
}

/** RMSNorm (ViT-22B's norms): layerNorm without centering. */
export function rmsNorm(device: Device, x: DeviceTensor, scale: DeviceTensor, y: DeviceTensor, options: Omit<LayerNormOptions, 'center' | 'mean'> = {}): void {
  layerNorm(device, x, scale, y, { ...options, center: false });
}

/** dx, dscale (and dbias) of layerNorm / rmsNorm, from the forward's saved mean and rstd. */
export function layerNormBackward(device: Device, inputs: LayerNormBackwardInputs, grads: LayerNormGrads, options: { center?: boolean } = {}): void {
  const op = 'layerNormBackward';
  for (const [v, name] of [[inputs, 'inputs'], [grads, 'grads']] as const) {
    if (typeof v !== 'object' || v === null) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} ${name} must be an object of tensors`, { expected: 'object', received: v === null ? 'null' : typeof v });
    }
  }
  const x = requireTensor(inputs.x, op, 'x', STORAGE);
  const [rows, dim] = rowsOf(x, op);
  const s = requireParam(inputs.scale, op, 'scale', dim, STORAGE);
  const dy = requireTensor(inputs.dy, op, 'dy', STORAGE);
  requireSameDType(x, dy, op, 'x and dy');
  requireShape(dy, op, 'dy', x.shape);
  const center = options.center === undefined ? true : flag(options.center, op, 'center');
  const rstd = requireStats(inputs.rstd, op, 'rstd', x);
  const mean = center ? requireStats(inputs.mean, op, 'mean', x) : undefined;
  const dx = requireTensor(grads.dx, op, 'dx', STORAGE);
  requireSameDType(x, dx, op, 'x and dx');
  requireShape(dx, op, 'dx', x.shape);
  const dscale = requireParam(grads.dscale, op, 'dscale', dim, ['f32']);
  const dbias = optional(grads.dbias, (b) => requireParam(b, op, 'dbias', dim, ['f32']));
  const dresidual = optional(inputs.dresidual, (t) => {
    const r = requireTensor(t, op, 'dresidual', STORAGE);
    requireSameDType(x, r, op, 'x and dresidual');
    requireShape(r, op, 'dresidual', x.shape);
    return r;
  });
  device.native.launch('layer_norm_bwd', {
    dtype: x.dtype,
    paramType: s.dtype,
    rows,
    dim,
    center,
    x: x.buffer,
    scale: s.buffer,
    rstd: rstd.buffer,
    dy: dy.buffer,
    dx: dx.buffer,
    dscale: dscale.buffer,
    ...(mean ? { mean: mean.buffer } : {}),
    ...(dbias ? { dbias: dbias.buffer } : {}),
    ...(dresidual ? { dresidual: dresidual.buffer } : {}),
  });
}
