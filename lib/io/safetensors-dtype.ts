/**
 * The element types of the safetensors format and their sizes in bytes. The names are the format's
 * own (upper case, as in the header); sub-byte types (F4, F6_*) are not supported.
 */
import type { DType } from '../runtime/dtype';

export const SAFETENSORS_DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BYTES;

export function isSafetensorsDType(v: unknown): v is SafetensorsDType {
  // hasOwn, not `in`: a header dtype of "toString" or "__proto__" must not pass.
  return typeof v === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, v);
}

/** Our storage types as safetensors names (bf16 is held as raw bits, which is what BF16 stores). */
export const SAFETENSORS_OF_DTYPE: Record<DType, SafetensorsDType> = { f32: 'F32', bf16: 'BF16', i32: 'I32', u8: 'U8' };

/** The reverse, for the four types a device buffer can hold. */
export function dtypeOfSafetensors(d: SafetensorsDType): DType | undefined {
  for (const [k, v] of Object.entries(SAFETENSORS_OF_DTYPE)) if (v === d) return k as DType;
  return undefined;
}
