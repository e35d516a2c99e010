/** Typed readers of CLI option values: each bad value is ERR_USAGE with the command's usage text. */
import { usageError } from './parse-options';

export function positiveInt(value: string | undefined, name: string, fallback: number | undefined, usage: string, min = 1): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const v = Number(value);
  if (value === undefined || !Number.isSafeInteger(v) || v < min) {
    throw usageError(`--${name} must be an integer >= ${min}`, usage, String(value));
  }
  return v;
}

export function finiteNumber(value: string | undefined, name: string, fallback: number, usage: string, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw usageError(`--${name} must be a number in [${min}, ${max}]`, usage, value);
  }
  return v;
}

export function choice(value: string | undefined, name: string, allowed: readonly string[], fallback: string, usage: string): string {
  const v = value ?? fallback;
  if (!allowed.includes(v)) throw usageError(`--${name} must be ${allowed.join(', ')}`, usage, v);
  return v;
}
