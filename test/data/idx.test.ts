// The IDX reader (lib/data/idx.ts) against files written here from random values, raw and gzipped,
// and every way a file can be broken.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

import { isGzip, parseIdx, readIdx, readIdxImages, readIdxLabels, type IdxDType } from '../../lib/data/idx';
import { isVit22bError, type Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randInt, type Rng } from '../helpers/prng';

/** The IDX dtype byte and element size, from the format's description (not from the reader). */
const TYPES: Record<IdxDType, { code: number; bytes: number }> = {
  u8: { code: 0x08, bytes: 1 },
  i8: { code: 0x09, bytes: 1 },
  i16: { code: 0x0b, bytes: 2 },
  i32: { code: 0x0c, bytes: 4 },
  f32: { code: 0x0d, bytes: 4 },
  f64: { code: 0x0e, bytes: 8 },
};

/** Writes an IDX file byte by byte, big-endian, the way the format's description says. */
function writeIdx(dtype: IdxDType, shape: number[], values: number[]): Buffer {
  const { code, bytes } = TYPES[dtype];
  const buf = Buffer.alloc(4 + 4 * shape.length + values.length * bytes);
  buf[2] = code;
  buf[3] = shape.length;
  shape.forEach((n, i) => buf.writeUInt32BE(n, 4 + 4 * i));
  let o = 4 + 4 * shape.length;
  for (const v of values) {
    if (dtype === 'u8') buf.writeUInt8(v, o);
    else if (dtype === 'i8') buf.writeInt8(v, o);
    else if (dtype === 'i16') buf.writeInt16BE(v, o);
    else if (dtype === 'i32') buf.writeInt32BE(v, o);
    else if (dtype === 'f32') buf.writeFloatBE(v, o);
    else buf.writeDoubleBE(v, o);
    o += bytes;
  }
  return buf;
}

function randomValue(rng: Rng, dtype: IdxDType): number {
  switch (dtype) {
    case 'u8':
      return randInt(rng, 0, 255);
    case 'i8':
      return randInt(rng, -128, 127);
    case 'i16':
      return randInt(rng, -32768, 32767);
    case 'i32':
      return randInt(rng, -(2 ** 31), 2 ** 31 - 1);
    case 'f32':
      return Math.fround((rng() - 0.5) * 2 ** randInt(rng, -20, 20));
    case 'f64':
      return (rng() - 0.5) * 2 ** randInt(rng, -200, 200);
  }
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-idx-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

function corruptionOf(fn: () => unknown, reason: string, filePath: string): Vit22bError {
  const e = thrownBy(fn);
  expect(isVit22bError(e, 'ERR_DATA_CORRUPT')).toBe(true);
  const err = e as Vit22bError;
  expect(err.details.reason).toBe(reason);
  expect(err.details.file).toBe(filePath);
  expect(err.message).toContain(filePath);
  return err;
}

describe('readIdx on generated files', () => {
  const dtypes: IdxDType[] = ['u8', 'i8', 'i16', 'i32', 'f32', 'f64'];
  for (const dtype of dtypes) {
    for (const gz of [false, true]) {
      const seed = 1000 + dtypes.indexOf(dtype) * 2 + (gz ? 1 : 0);
      test(`${dtype} ${gz ? 'gzipped' : 'raw'}, random shape and values (seed ${seed})`, () => {
        const rng = mulberry32(seed);
        const shape = Array.from({ length: randInt(rng, 1, 4) }, () => randInt(rng, 1, 7));
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, () => randomValue(rng, dtype));
        const bytes = writeIdx(dtype, shape, values);
        // A name that lies about compression: detection must go by the bytes.
        const p = file(`t-${seed}${gz ? '' : '.gz'}`, gz ? gzipSync(bytes) : bytes);
        const idx = readIdx(p);
        expect(idx.dtype).toBe(dtype);
        expect(idx.shape).toEqual(shape);
        expect(Array.from(idx.data)).toEqual(values);
      });
    }
  }

  test('a u8 result is a plain Uint8Array, not a Buffer', () => {
    const p = file('plain', writeIdx('u8', [3], [1, 2, 3]));
    const idx = readIdx(p);
    expect(Object.getPrototypeOf(idx.data)).toBe(Uint8Array.prototype);
  });

  test('rank 0 holds one value; a zero dimension holds none', () => {
    expect(Array.from(parseIdx(writeIdx('i32', [], [-7])).data)).toEqual([-7]);
    const empty = parseIdx(writeIdx('u8', [4, 0, 3], []));
    expect(empty.shape).toEqual([4, 0, 3]);
    expect(empty.data.length).toBe(0);
  });

  test('readIdxImages and readIdxLabels: [N, H, W] images and [N] labels (seed 77)', () => {
    const rng = mulberry32(77);
    const [n, h, w] = [5, 4, 3];
    const pixels = Array.from({ length: n * h * w }, () => randInt(rng, 0, 255));
    const labels = Array.from({ length: n }, () => randInt(rng, 0, 9));
    const im = readIdxImages(file('im.gz', gzipSync(writeIdx('u8', [n, h, w], pixels))));
    expect([im.count, im.height, im.width]).toEqual([n, h, w]);
    expect(Array.from(im.images)).toEqual(pixels);
    expect(Array.from(readIdxLabels(file('lb', writeIdx('u8', [n], labels))))).toEqual(labels);
  });

  test('isGzip looks at the first two bytes only', () => {
    expect(isGzip(gzipSync(Buffer.from('x')))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f, 0x8b]))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
    expect(isGzip(new Uint8Array([0, 0, 8, 1]))).toBe(false);
  });
});

describe('readIdx errors', () => {
  test('a missing file: ERR_DATA_NOT_FOUND naming it', () => {
    const p = path.join(dir, 'no-such-file');
    const e = thrownBy(() => readIdx(p)) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e.details).toMatchObject({ file: p, searched: [p], reason: 'missing' });
    expect(e.message).toContain(p);
  });

  test('a folder in place of the file: ERR_DATA_NOT_FOUND, unreadable', () => {
    const e = thrownBy(() => readIdx(dir)) as Vit22bError;
    expect(isVit22bError(e, 'ERR_DATA_NOT_FOUND')).toBe(true);
    expect(e.details.reason).toBe('unreadable');
  });

  test('bad magic: nonzero leading bytes or an unknown dtype byte', () => {
    for (const [name, head] of [
      ['png-like', [0x89, 0x50, 0x4e, 0x47]],
      ['one-zero', [0x00, 0x01, 0x08, 0x01]],
      ['dtype-0a', [0x00, 0x00, 0x0a, 0x01]],
      ['dtype-ff', [0x00, 0x00, 0xff, 0x01]],
    ] as const) {
      const p = file(name, new Uint8Array([...head, 0, 0, 0, 1, 42]));
      const e = corruptionOf(() => readIdx(p), 'bad-magic', p);
      expect(e.received).toBe(head.map((b) => b.toString(16).padStart(2, '0')).join(' '));
    }
  });

  test('truncated: shorter than the magic, than the header, than the data', () => {
    const full = writeIdx('i16', [3, 2], [1, 2, 3, 4, 5, 6]);
    const short = file('short-magic', full.subarray(0, 3));
    corruptionOf(() => readIdx(short), 'truncated', short);
    const header = file('short-header', full.subarray(0, 9)); // rank 2 needs 12 header bytes
    expect(corruptionOf(() => readIdx(header), 'truncated', header).expected).toBe('at least 12 bytes');
    const data = file('short-data', full.subarray(0, full.length - 1));
    const e = corruptionOf(() => readIdx(data), 'truncated', data);
    expect(e.expected).toBe('12 data bytes');
    expect(e.received).toBe('11 data bytes');
  });

  test('size mismatch: more bytes than the header promises', () => {
    const full = writeIdx('u8', [2, 2], [1, 2, 3, 4]);
    const p = file('long', Buffer.concat([full, Buffer.from([9])]));
    const e = corruptionOf(() => readIdx(p), 'size-mismatch', p);
    expect(e.expected).toBe('4 data bytes');
    expect(e.received).toBe('5 data bytes');
  });

  test('a header whose sizes multiply past 2^53 is truncated, not a crash', () => {
    const p = file('huge', writeIdx('f64', [0xffffffff, 0xffffffff, 0xffffffff], []));
    corruptionOf(() => readIdx(p), 'truncated', p);
  });

  test('a broken gzip stream: bad-gzip; a gzipped IDX file that is itself truncated: truncated', () => {
    const gz = gzipSync(writeIdx('u8', [100], Array.from({ length: 100 }, (_, i) => i)));
    const cut = file('cut.gz', gz.subarray(0, gz.length - 10));
    corruptionOf(() => readIdx(cut), 'bad-gzip', cut);
    const garbage = Buffer.from(gz);
    garbage.fill(0xab, 12, 30);
    const bad = file('garbage.gz', garbage);
    corruptionOf(() => readIdx(bad), 'bad-gzip', bad);
    const inner = file('inner.gz', gzipSync(writeIdx('u8', [100], Array.from({ length: 100 }, (_, i) => i)).subarray(0, 50)));
    corruptionOf(() => readIdx(inner), 'truncated', inner);
  });

  test('images and labels must be u8 of rank 3 and 1', () => {
    const labelsAsImages = file('rank1', writeIdx('u8', [4], [1, 2, 3, 4]));
    expect(corruptionOf(() => readIdxImages(labelsAsImages), 'wrong-layout', labelsAsImages).received).toBe('u8, rank 1');
    const floats = file('floats', writeIdx('f32', [2], [0.5, 1.5]));
    expect(corruptionOf(() => readIdxLabels(floats), 'wrong-layout', floats).received).toBe('f32, rank 1');
  });
});
