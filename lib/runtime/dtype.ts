import { Vit22bError } from './errors';

/** Storage types. bf16 is held on the host as raw bits in a Uint16Array. */
export type DType = 'f32' | 'bf16' | 'i32' | 'u8';

export const DTYPES: readonly DType[] = ['f32', 'bf16', 'i32', 'u8'];

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, bf16: 2, i32: 4, u8: 1 };

export type HostArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'bf16'
    ? Uint16Array
    : D extends 'i32'
      ? Int32Array
      : Uint8Array;

export type HostArray = Float32Array | Uint16Array | Int32Array | Uint8Array;

export function assertDType(value: unknown, what = 'dtype'): DType {
  if (typeof value === 'string' && (DTYPES as readonly string[]).includes(value)) return value as DType;
  throw new Vit22bError('ERR_INVALID_ARGUMENT', `${what} must be one of ${DTYPES.join(', ')}`, {
    expected: DTYPES.join(' | '),
    received: String(value),
  });
}

export function allocHostArray(dtype: DType, length: number): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(length);
    case 'bf16':
      return new Uint16Array(length);
    case 'i32':
      return new Int32Array(length);
    case 'u8':
      return new Uint8Array(length);
  }
}

/** The TypedArray constructor name that holds `dtype` on the host. */
export function hostArrayName(dtype: DType): string {
  return allocHostArray(dtype, 0).constructor.name;
}
