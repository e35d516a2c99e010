/**
 * Shape-rule checks shared by the op definitions: each failure is a typed Vit22bError naming the op
 * and the input, with what was expected and what was received.
 */
import { Vit22bError } from '../../runtime/errors';
import { shapeText, type DType, type Shape, type TensorType } from '../types';

export function shapeMismatch(op: string, what: string, expected: string, received: string): Vit22bError {
  return new Vit22bError('ERR_SHAPE_MISMATCH', `${op}: ${what}`, { expected, received });
}

export function requireArity(op: string, inputs: readonly TensorType[], min: number, max = min): void {
  if (inputs.length < min || inputs.length > max) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} takes ${min === max ? min : `${min} to ${max}`} inputs`, {
      expected: `${min === max ? min : `${min}..${max}`} inputs`,
      received: `${inputs.length} inputs`,
    });
  }
}

export function requireDType(op: string, name: string, t: TensorType, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', `${op}: ${name} must be ${allowed.join(' or ')}`, {
      expected: allowed.join(' | '),
      received: t.dtype,
    });
  }
}

/** The dtypes the float kernels store in. */
export type StorageDType = 'f32' | 'bf16';
const STORAGE: readonly StorageDType[] = ['f32', 'bf16'];

/**
 * `dtype` narrowed, for a lowering, to what the kernel takes: f32 | bf16, or the `allowed` list.
 * infer() has refused any other dtype already, so a failure here is a bug in the op (ERR_INTERNAL).
 */
export function storageOf(op: string, what: string, dtype: DType): StorageDType;
export function storageOf<D extends DType>(op: string, what: string, dtype: DType, allowed: readonly D[]): D;
export function storageOf(op: string, what: string, dtype: DType, allowed: readonly DType[] = STORAGE): DType {
  if (!allowed.includes(dtype)) {
    throw new Vit22bError('ERR_INTERNAL', `${op}: ${what} reached the kernel as ${dtype}`, {
      expected: allowed.join(' | '),
      received: dtype,
    });
  }
  return dtype;
}

export function requireSameDType(op: string, names: string, a: TensorType, b: TensorType): void {
  if (a.dtype !== b.dtype) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', `${op}: ${names} must have one dtype`, {
      expected: a.dtype,
      received: b.dtype,
    });
  }
}

export function requireRank(op: string, name: string, t: TensorType, min: number, max = min): void {
  const r = t.shape.length;
  if (r < min || r > max) {
    throw shapeMismatch(
      op,
      `${name} must have rank ${min === max ? min : `${min} to ${max}`}`,
      `rank ${min === max ? min : `${min}..${max}`}`,
      `${shapeText(t.shape)} (rank ${r})`,
    );
  }
}

export function requireShape(op: string, name: string, t: TensorType, shape: Shape): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw shapeMismatch(op, `${name} has the wrong shape`, shapeText(shape), shapeText(t.shape));
  }
}

/** A number attribute (finite; integer and bounds when asked). */
export function numberAttr(
  op: string,
  name: string,
  value: unknown,
  opts: { integer?: boolean; min?: number; max?: number; fallback?: number } = {},
): number {
  const v = value === undefined ? opts.fallback : value;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!opts.integer || Number.isInteger(v)) &&
    (opts.min === undefined || v >= opts.min) &&
    (opts.max === undefined || v <= opts.max);
  if (!ok) {
    const range = `${opts.integer ? 'an integer' : 'a finite number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}${
      opts.max !== undefined ? ` <= ${opts.max}` : ''
    }`;
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op}: attribute ${name} must be ${range}`, {
      expected: range,
      received: String(value),
    });
  }
  return v as number;
}
