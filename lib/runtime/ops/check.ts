/**
 * Argument checks shared by the kernel wrappers in lib/runtime/ops: each failure is a typed
 * Vit22bError naming the op, the argument, what was expected and what was received. The native
 * launchers check again (they are the last line of defence); these give the better message.
 */
import type { DType } from '../dtype';
import { Vit22bError } from '../errors';
import { DeviceTensor } from '../tensor';

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function shapeError(message: string, expected: string, received: string): Vit22bError {
  return new Vit22bError('ERR_SHAPE_MISMATCH', message, { expected, received });
}

/** A DeviceTensor whose dtype is known to be one of D (what requireTensor checked). */
export type TensorOf<D extends DType> = DeviceTensor & { readonly dtype: D };

function hasDType<D extends DType>(t: DeviceTensor, dtypes: readonly D[]): t is TensorOf<D> {
  return (dtypes as readonly DType[]).includes(t.dtype);
}

/** `t` is a DeviceTensor of one of `dtypes`; returned with its dtype narrowed to them. */
export function requireTensor<D extends DType>(t: unknown, op: string, name: string, dtypes: readonly D[]): TensorOf<D> {
  if (!(t instanceof DeviceTensor)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} ${name} must be a DeviceTensor`, {
      expected: 'DeviceTensor',
      received: t === null ? 'null' : typeof t,
    });
  }
  if (!hasDType(t, dtypes)) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', `${op} ${name} must be ${dtypes.join(' or ')}`, {
      expected: dtypes.join(' | '),
      received: t.dtype,
    });
  }
  return t;
}

/** `t` has exactly `shape`. */
export function requireShape(t: DeviceTensor, op: string, name: string, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(`${op} ${name} has the wrong shape`, shapeText(shape), shapeText(t.shape));
  }
}

/** `b` has `a`'s dtype. */
export function requireSameDType(a: DeviceTensor, b: DeviceTensor, op: string, names: string): void {
  if (a.dtype !== b.dtype) {
    throw new Vit22bError('ERR_DTYPE_MISMATCH', `${op} ${names} must have the same dtype`, {
      expected: a.dtype,
      received: b.dtype,
    });
  }
}

export function flag(value: unknown, op: string, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option ${name} must be a boolean`, {
      expected: 'boolean',
      received: typeof value,
    });
  }
  return value;
}

export function scalar(value: unknown, op: string, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option ${name} must be a finite number`, {
      expected: 'finite number',
      received: String(value),
    });
  }
  return value;
}

/** A non-negative integer option (a size, a count, a column index). */
export function count(value: unknown, op: string, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `${op} option ${name} must be a non-negative integer`, {
      expected: 'integer >= 0',
      received: String(value),
    });
  }
  return value;
}
