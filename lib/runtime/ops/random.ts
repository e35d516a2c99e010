import type { Device } from '../device';
import { Vit22bError } from '../errors';
import type { DeviceTensor } from '../tensor';
import { requireTensor, scalar } from './check';

/** A 64-bit unsigned integer: a safe integer number, or a BigInt below 2^64. */
export type U64 = number | bigint;

export type InitDistribution =
  | { dist: 'constant'; value: number }
  | { dist: 'uniform'; lo: number; hi: number }
  | { dist: 'normal'; mean?: number; std: number }
  /** mean + std * z with z a standard normal conditioned on [-2, 2] (its std is ~0.8796 * std). */
  | { dist: 'truncated_normal'; mean?: number; std: number };

/**
 * Where the random numbers come from: element i of the tensor is element start + i of the stream
 * (seed, offset). Values depend on nothing else (not the thread count, not the backend), so a
 * shard can generate its slice of a tensor with `start`, and different tensors of one seed use
 * different offsets.
 */
export interface RandomStream {
  seed: U64;
  /** Default 0. */
  offset?: U64;
  /** Default 0. */
  start?: U64;
}

function u64(value: unknown, name: string, fallback?: U64): U64 {
  if (value === undefined && fallback !== undefined) return fallback;
  const ok =
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === 'bigint' && value >= 0n && value < 1n << 64n);
  if (!ok) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `randomInit ${name} must be an integer in [0, 2^64)`, {
      expected: 'a safe integer >= 0 or a BigInt below 2^64',
      received: String(value),
    });
  }
  return value as U64;
}

/**
 * Fills `out` (f32 or bf16) from Philox4x32-10: constant, uniform [lo, hi) (in the storage type),
 * normal, or normal truncated to mean +- 2 std.
 */
export function randomInit(device: Device, out: DeviceTensor, init: InitDistribution, stream: RandomStream): void {
  const op = 'randomInit';
  const t = requireTensor(out, op, 'out', ['f32', 'bf16']);
  if (typeof init !== 'object' || init === null || typeof stream !== 'object' || stream === null) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', 'randomInit takes a distribution and a stream object', {
      expected: '{ dist, ... }, { seed, offset?, start? }',
      received: `${typeof init}, ${typeof stream}`,
    });
  }
  let a: number;
  let b = 0;
  switch (init.dist) {
    case 'constant':
      a = scalar(init.value, op, 'value', NaN);
      break;
    case 'uniform':
      a = scalar(init.lo, op, 'lo', NaN);
      b = scalar(init.hi, op, 'hi', NaN);
      if (!(a < b)) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', 'randomInit uniform needs lo < hi', { expected: `hi > ${a}`, received: String(b) });
      }
      break;
    case 'normal':
    case 'truncated_normal':
      a = scalar(init.mean, op, 'mean', 0);
      b = scalar(init.std, op, 'std', NaN);
      if (!(b >= 0)) {
        throw new Vit22bError('ERR_INVALID_ARGUMENT', 'randomInit std must be >= 0', { expected: 'std >= 0', received: String(b) });
      }
      break;
    default:
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `randomInit distribution '${String((init as { dist: unknown }).dist)}' is unknown`, {
        expected: 'constant | uniform | normal | truncated_normal',
        received: String((init as { dist: unknown }).dist),
      });
  }
  device.native.launch('random_init', {
    dtype: t.dtype,
    dist: init.dist,
    seed: u64(stream.seed, 'seed'),
    offset: u64(stream.offset, 'offset', 0),
    start: u64(stream.start, 'start', 0),
    n: t.size,
    a,
    b,
    out: t.buffer,
  });
}

/**
 * Raw Philox4x32-10 output into an i32 tensor of 4 * blocks elements (u32 bit patterns): block b is
 * philox(counter + b, key), counter a 128-bit little-endian integer of four u32 words.
 */
export function philox(device: Device, out: DeviceTensor, key: readonly [number, number], counter: readonly [number, number, number, number]): void {
  const t = requireTensor(out, 'philox', 'out', ['i32']);
  if (t.size % 4 !== 0) {
    throw new Vit22bError('ERR_SHAPE_MISMATCH', 'philox fills whole blocks of 4 words', {
      expected: 'a size divisible by 4',
      received: String(t.size),
    });
  }
  device.native.launch('philox', { key: [...key], counter: [...counter], blocks: t.size / 4, out: t.buffer });
}
