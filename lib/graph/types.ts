/**
 * Types of graph values: a shape, a storage dtype and an optional sharding annotation (which mesh
 * axis splits each dimension; a parameter's is read by passes/partition.ts). Shapes are concrete: a program is
 * compiled per set of input shapes (compile.ts caches one plan per shape key).
 */
import { DTYPE_BYTES, type DType } from '../runtime/dtype';
import { Vit22bError } from '../runtime/errors';

export type { DType };
export type Shape = readonly number[];

/**
 * Per dimension, the mesh axis ('data', 'model') that splits it, or { axis, segments } for a
 * segmented split (sharding.ts), or null for replicated.
 */
export type Sharding = readonly (string | { axis: string; segments?: readonly number[] } | null)[];

export interface TensorType {
  shape: Shape;
  dtype: DType;
  sharding?: Sharding;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function byteSize(t: TensorType): number {
  return numel(t.shape) * DTYPE_BYTES[t.dtype];
}

export function shapeText(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A shape of non-negative safe integers (ERR_SHAPE_MISMATCH naming `what` otherwise). */
export function checkShape(shape: unknown, what: string): Shape {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', `${what} must be an array of non-negative integers`, {
      expected: 'number[] of integers >= 0',
      received: JSON.stringify(shape),
    });
  }
  return [...shape] as Shape;
}

/** The product of all but the last dimension: the row count of a [..., D] tensor. */
export function rowsOf(shape: Shape): number {
  return numel(shape.slice(0, -1));
}

export function lastDim(shape: Shape): number {
  return shape.length === 0 ? 1 : shape[shape.length - 1]!;
}
