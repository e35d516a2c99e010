/**
 * The IDX format of MNIST and Fashion-MNIST: two zero bytes, a dtype byte, a rank byte, one
 * big-endian u32 per dimension, then the values, row-major and big-endian. Files are read raw or
 * gzipped, told apart by their first two bytes rather than the file name, because both kinds are
 * distributed under both kinds of names.
 */
import { gunzipSync } from 'node:zlib';

import { readRegularFile } from '../io/regular-file';
import { requireBytes, requireString } from '../runtime/arg-checks';
import { Vit22bError } from '../runtime/errors';

export type IdxDType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly dtype: IdxDType;
  readonly shape: readonly number[];
  /** The values in row-major order, converted to this machine's byte order. */
  readonly data: IdxData;
}

/** The dtype byte (the magic's third byte) -> element type and size. */
const DTYPE_CODES: ReadonlyMap<number, { dtype: IdxDType; bytes: number }> = new Map([
  [0x08, { dtype: 'u8', bytes: 1 }],
  [0x09, { dtype: 'i8', bytes: 1 }],
  [0x0b, { dtype: 'i16', bytes: 2 }],
  [0x0c, { dtype: 'i32', bytes: 4 }],
  [0x0d, { dtype: 'f32', bytes: 4 }],
  [0x0e, { dtype: 'f64', bytes: 8 }],
]);

/** The dtype byte written for each element type (for writers and tests). */
export const IDX_DTYPE_CODE: Readonly<Record<IdxDType, number>> = {
  u8: 0x08,
  i8: 0x09,
  i16: 0x0b,
  i32: 0x0c,
  f32: 0x0d,
  f64: 0x0e,
};

/** The largest IDX file (raw or inflated) we read: Fashion-MNIST's largest is 47 MB. */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

const GZIP_MAGIC = [0x1f, 0x8b] as const;

function corrupt(file: string, reason: string, message: string, extra: Record<string, unknown> = {}): Vit22bError {
  return new Vit22bError('ERR_DATA_CORRUPT', `${file}: ${message}`, { file, reason, ...extra });
}

/** True when the bytes start like a gzip stream. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/**
 * Parses IDX bytes (already decompressed). `file` only names the source in errors. Throws
 * ERR_DATA_CORRUPT with `details.reason` one of `bad-magic`, `truncated` (fewer bytes than the
 * header promises), `size-mismatch` (more bytes than the header promises).
 */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  requireBytes(bytes, 'parseIdx bytes');
  if (bytes.length < 4) {
    throw corrupt(file, 'truncated', `${bytes.length} bytes is shorter than the 4-byte IDX magic`, {
      expected: 'at least 4 bytes',
      received: `${bytes.length} bytes`,
    });
  }
  const type = DTYPE_CODES.get(bytes[2]!);
  if (bytes[0] !== 0 || bytes[1] !== 0 || type === undefined) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw corrupt(file, 'bad-magic', `not an IDX file (magic ${magic})`, {
      expected: '00 00 <08|09|0b|0c|0d|0e> <rank>',
      received: magic,
    });
  }
  const rank = bytes[3]!;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw corrupt(file, 'truncated', `the header of a rank-${rank} IDX file needs ${headerBytes} bytes`, {
      expected: `at least ${headerBytes} bytes`,
      received: `${bytes.length} bytes`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < rank; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n;
  }
  const dataBytes = bytes.length - headerBytes;
  // count can exceed 2^53 for absurd headers; the comparison still says "truncated" correctly.
  const wanted = count * type.bytes;
  if (wanted !== dataBytes) {
    const truncated = wanted > dataBytes;
    throw corrupt(
      file,
      truncated ? 'truncated' : 'size-mismatch',
      `the header [${shape.join(', ')}] ${type.dtype} needs ${wanted} data bytes, the file has ${dataBytes}`,
      { expected: `${wanted} data bytes`, received: `${dataBytes} data bytes`, shape },
    );
  }
  return { dtype: type.dtype, shape, data: decode(bytes, headerBytes, count, type.dtype) };
}

function decode(bytes: Uint8Array, offset: number, count: number, dtype: IdxDType): IdxData {
  // u8 is the common case (all of MNIST): a view, no copy, and a plain Uint8Array even when the
  // bytes came in a Node Buffer.
  if (dtype === 'u8') return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, count);
  if (dtype === 'i8') return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  switch (dtype) {
    case 'i16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case 'i32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case 'f32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case 'f64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/**
 * Reads an IDX file, raw or gzipped. Throws ERR_DATA_NOT_FOUND when it cannot be read (with
 * `details.searched` = [file]) and ERR_DATA_CORRUPT for a broken gzip stream (`reason: 'bad-gzip'`)
 * or anything parseIdx rejects.
 */
export function readIdx(file: string): IdxArray {
  requireString(file, 'readIdx file');
  // A FIFO or device under the name is refused (a read would never end), as is a file too large.
  // A FIFO, device or folder under the name is refused unread (a read would never end), with the
  // same code as a missing file (stable: a folder always was ERR_DATA_NOT_FOUND 'unreadable').
  const raw = readRegularFile(file, MAX_IDX_BYTES, (reason, message, extra) =>
    reason === 'file-too-large'
      ? corrupt(file, reason, message, extra)
      : new Vit22bError('ERR_DATA_NOT_FOUND', message, { ...extra, file, searched: [file], reason: extra.received === 'ENOENT' ? 'missing' : 'unreadable', kind: reason }),
  );
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      // Capped: a small gzip bomb must not inflate to all of memory.
      bytes = gunzipSync(raw, { maxOutputLength: MAX_IDX_BYTES });
    } catch (e) {
      throw corrupt(file, 'bad-gzip', `gzip stream cannot be decompressed: ${(e as Error).message}`, {
        expected: `a gzip stream inflating to at most ${MAX_IDX_BYTES} bytes`,
        received: (e as Error).message,
        cause: (e as Error).message,
      });
    }
  }
  return parseIdx(bytes, file);
}

/** Images of one byte per pixel, [N, H, W]. */
export interface IdxImages {
  readonly images: Uint8Array; // [N, H, W]
  readonly count: number;
  readonly height: number;
  readonly width: number;
}

/** Reads a u8 rank-3 IDX file (the image files of MNIST-like sets). */
export function readIdxImages(file: string): IdxImages {
  const idx = readIdx(file);
  expectLayout(file, idx, 3, 'an image file [N, H, W]');
  const [count, height, width] = idx.shape as [number, number, number];
  return { images: idx.data as Uint8Array, count, height, width };
}

/** Reads a u8 rank-1 IDX file (the label files of MNIST-like sets): labels [N]. */
export function readIdxLabels(file: string): Uint8Array {
  const idx = readIdx(file);
  expectLayout(file, idx, 1, 'a label file [N]');
  return idx.data as Uint8Array;
}

function expectLayout(file: string, idx: IdxArray, rank: number, what: string): void {
  if (idx.dtype !== 'u8' || idx.shape.length !== rank) {
    throw corrupt(file, 'wrong-layout', `expected ${what} of u8, found ${idx.dtype} [${idx.shape.join(', ')}]`, {
      expected: `u8, rank ${rank}`,
      received: `${idx.dtype}, rank ${idx.shape.length}`,
    });
  }
}
