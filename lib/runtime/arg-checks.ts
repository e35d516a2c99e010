/**
 * Checks of API arguments that JavaScript callers (no type checker) can get wrong: each failure is
 * ERR_INVALID_ARGUMENT naming the argument, instead of a TypeError from deep inside ("Cannot read
 * properties of undefined").
 */
import { Vit22bError } from './errors';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v).slice(0, 40)}`;
}

function bad(field: string, expected: string, v: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_ARGUMENT', `${field} must be ${expected}, got ${describe(v)}`, { field, expected, received: describe(v) });
}

/** A plain object (not null, not an array). */
export function requireObject<T>(v: T, field: string, expected = 'an object'): NonNullable<T> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, expected, v);
  return v as NonNullable<T>;
}

/** A non-empty string (a path, a name). */
export function requireString(v: unknown, field: string, expected = 'a non-empty string'): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(field, expected, v);
  return v;
}

/** Bytes: a Uint8Array (a Node Buffer is one). */
export function requireBytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(field, 'a Uint8Array', v);
  return v;
}
