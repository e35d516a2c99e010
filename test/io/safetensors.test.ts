/**
 * lib/io/safetensors: random tensors of every dtype round-trip bit for bit; the writer's layout is
 * the reference's (sorted keys, space padding to 8 bytes); every validation rule rejects a hand-made
 * bad file with ERR_SAFETENSORS naming the file and the rule; reading a tensor of a large file reads
 * only the header and that tensor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { isVit22bError, Vit22bError } from '../../lib/runtime/errors';
import {
  parseSafetensors,
  SAFETENSORS_DTYPE_BYTES,
  SafetensorsFile,
  serializeSafetensors,
  tensorBytes,
  writeSafetensors,
  type SafetensorsDType,
  type SafetensorsTensor,
} from '../../lib/io/safetensors';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randInt } from '../helpers/prng';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-st-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DTYPES = Object.keys(SAFETENSORS_DTYPE_BYTES) as SafetensorsDType[];

function randomTensor(rng: () => number, dtype: SafetensorsDType): SafetensorsTensor {
  const rank = randInt(rng, 0, 4);
  const shape = Array.from({ length: rank }, () => randInt(rng, 0, 5));
  const n = shape.reduce((a, d) => a * d, 1) * SAFETENSORS_DTYPE_BYTES[dtype];
  const data = new Uint8Array(n);
  for (let i = 0; i < n; ++i) data[i] = randInt(rng, 0, 255);
  return { dtype, shape, data };
}

/** A file from a raw header string and data bytes (for hand-made bad files). */
function rawFile(header: string, data: Uint8Array | number = 0, lengthField?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function rejection(bytes: Uint8Array): Vit22bError {
  const e = thrownBy(() => parseSafetensors(bytes, 'bad.safetensors'));
  if (!(e instanceof Vit22bError)) throw e;
  return e;
}

describe('round trip', () => {
  test.each([1, 2, 3])('random tensors of every dtype, seed %i: names, dtypes, shapes, bytes and metadata', (seed) => {
    const rng = mulberry32(seed);
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const dtype of DTYPES) for (let k = 0; k < 3; ++k) tensors[`t.${dtype}.${k}.${randInt(rng, 0, 1e6)}`] = randomTensor(rng, dtype);
    const metadata = { format: 'pt', seed: String(seed), 'ünïcode ✓': 'välue' };
    const file = path.join(tmp, `round-${seed}.safetensors`);
    writeSafetensors(file, tensors, metadata);
    // The writer leaves no temporary file behind.
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const whole = new Uint8Array(fs.readFileSync(file));
    expect(whole).toEqual(serializeSafetensors(tensors, metadata));
    using f = SafetensorsFile.open(file);
    expect(f.metadata).toEqual(metadata);
    expect(f.names().sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const e = f.entry(name);
      expect(e.dtype).toBe(t.dtype);
      expect(e.shape).toEqual(t.shape);
      expect(f.read(name)).toEqual(t.data);
    }
    const mem = parseSafetensors(whole);
    for (const [name, t] of Object.entries(tensors)) expect(tensorBytes(whole, mem.byName.get(name)!)).toEqual(t.data);
  });

  test('layout: keys sorted, data in key order, header padded with spaces to a multiple of 8, data 8-aligned', () => {
    const bytes = serializeSafetensors({
      b: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      a: { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe('{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}}');
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect([...bytes.subarray(8 + n, 8 + n + 3)]).toEqual([7, 8, 9]);
  });

  test('readHost gives our buffer types (f32, bf16 bits, i32, u8) and refuses the others', () => {
    const file = path.join(tmp, 'host.safetensors');
    writeSafetensors(file, {
      f: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) },
      h: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
      i: { dtype: 'I32', shape: [1], data: new Int32Array([-7]) },
      d: { dtype: 'F64', shape: [1], data: new Float64Array([1]) },
    });
    using f = SafetensorsFile.open(file);
    expect(f.readHost('f')).toEqual(new Float32Array([1.5, -2]));
    expect(f.readHost('h')).toEqual(new Uint16Array([0x3f80]));
    expect(f.readHost('i')).toEqual(new Int32Array([-7]));
    const e = thrownBy(() => f.readHost('d')) as Vit22bError;
    expect(e.details).toMatchObject({ rule: 'dtype-unsupported', file });
    expect((thrownBy(() => f.read('nope')) as Vit22bError).details.rule).toBe('tensor-missing');
  });

  test('an empty file (no tensors) and zero-size tensors are valid', () => {
    expect(parseSafetensors(serializeSafetensors({})).entries).toEqual([]);
    const z = parseSafetensors(serializeSafetensors({ a: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }, b: { dtype: 'I8', shape: [], data: new Int8Array(1) } }));
    expect(z.entries.map((e) => e.name)).toEqual(['a', 'b']);
  });

  test('the writer refuses a reserved name, a wrong byte count and non-string metadata', () => {
    const f32 = new Float32Array(2);
    const cases: [() => unknown, string][] = [
      [() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [2], data: f32 } }), 'name-reserved'],
      [() => serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: f32 } }), 'size-mismatch'],
      [() => serializeSafetensors({ a: { dtype: 'F32', shape: [-2], data: f32 } }), 'shape-invalid'],
      [() => serializeSafetensors({ a: { dtype: 'Q4' as SafetensorsDType, shape: [2], data: f32 } }), 'dtype-unknown'],
      [() => serializeSafetensors({}, { a: 1 as unknown as string }), 'metadata-invalid'],
    ];
    for (const [fn, rule] of cases) {
      const e = thrownBy(fn);
      expect(isVit22bError(e, 'ERR_SAFETENSORS')).toBe(true);
      expect((e as Vit22bError).details.rule).toBe(rule);
    }
  });
});

describe('every rule rejects a hand-made bad file', () => {
  const t = (dtype: string, shape: unknown, offsets: unknown) => JSON.stringify({ dtype, shape, data_offsets: offsets });
  const cases: [string, Uint8Array, string][] = ([
    ['file-too-short', new Uint8Array(5), 'fewer than 8 bytes'],
    ['header-too-large', rawFile('{}', 0, 100_000_001n), 'N above 100 MB'],
    ['header-too-large', rawFile('{}', 0, 2n ** 64n - 1n), 'N = 2^64 - 1'],
    ['header-truncated', rawFile('{}', 0, 50n), 'N past the end'],
    ['header-utf8', rawFile('{"\xff":1}').map((b, i, a) => (i === 10 ? 0xff : b)), 'invalid UTF-8'],
    ['header-start', rawFile(' {}'), 'leading space'],
    ['header-json', rawFile('{"a":'), 'cut JSON'],
    ['header-json', rawFile('{} x'), 'junk after the object'],
    ['duplicate-key', rawFile(`{"a":${t('U8', [1], [0, 1])},"a":${t('U8', [1], [1, 2])}}`, 2), 'tensor named twice'],
    ['duplicate-key', rawFile(`{"a":${t('U8', [1], [0, 1])},"\\u0061":${t('U8', [1], [0, 1])}}`, 1), 'same key, escaped'],
    ['duplicate-key', rawFile(`{"__metadata__":{"k":"1","k":"2"}}`), 'duplicate metadata key'],
    ['number-not-integer', rawFile(`{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}`, 1), 'shape written 1.0'],
    ['number-not-integer', rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1e0]}}`, 1), 'offset written 1e0'],
    ['metadata-invalid', rawFile(`{"__metadata__":{"k":1}}`), 'a number in metadata'],
    ['metadata-invalid', rawFile(`{"__metadata__":"x"}`), 'metadata a string'],
    ['metadata-invalid', rawFile(`{"__metadata__":null}`), 'metadata null'],
    ['entry-invalid', rawFile(`{"a":5}`), 'entry a number'],
    ['entry-invalid', rawFile(`{"a":{"dtype":"U8","shape":[1]}}`, 1), 'no data_offsets'],
    ['entry-invalid', rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":0}}`, 1), 'an extra field'],
    ['dtype-unknown', rawFile(`{"a":${t('F128', [1], [0, 16])}}`, 16), 'F128'],
    ['dtype-unknown', rawFile(`{"a":${t('toString', [1], [0, 1])}}`, 1), 'a prototype name'],
    ['shape-invalid', rawFile(`{"a":${t('U8', [-1], [0, 0])}}`), 'negative dimension'],
    ['number-not-integer', rawFile(`{"a":${t('U8', [1.5], [0, 1])}}`, 1), 'fractional dimension'],
    ['shape-invalid', rawFile(`{"a":${t('U8', [2 ** 53], [0, 1])}}`, 1), 'unsafe integer'],
    ['shape-invalid', rawFile(`{"a":${t('U8', 3, [0, 3])}}`, 3), 'not an array'],
    ['offsets-invalid', rawFile(`{"a":${t('U8', [1], [1, 0])}}`, 1), 'begin > end'],
    ['offsets-invalid', rawFile(`{"a":${t('U8', [1], [0, 1, 2])}}`, 1), 'three offsets'],
    ['offsets-invalid', rawFile(`{"a":${t('U8', [1], [0, '1'])}}`, 1), 'a string offset'],
    ['size-overflow', rawFile(`{"a":${t('F64', [2 ** 40, 2 ** 40], [0, 8])}}`, 8), 'shape product overflows'],
    ['size-mismatch', rawFile(`{"a":${t('F32', [2], [0, 4])}}`, 4), 'offsets span fewer bytes than the shape'],
    ['offsets-not-contiguous', rawFile(`{"a":${t('U8', [1], [1, 2])}}`, 2), 'a hole at the start'],
    ['offsets-not-contiguous', rawFile(`{"a":${t('U8', [2], [0, 2])},"b":${t('U8', [2], [1, 3])}}`, 3), 'an overlap'],
    ['offsets-not-contiguous', rawFile(`{"a":${t('U8', [1], [0, 1])},"b":${t('U8', [1], [2, 3])}}`, 3), 'a hole between'],
    ['data-size-mismatch', rawFile(`{"a":${t('U8', [2], [0, 2])}}`, 3), 'a trailing byte'],
    ['data-size-mismatch', rawFile(`{"a":${t('U8', [2], [0, 2])}}`, 1), 'data truncated'],
  ] as [string, Uint8Array, string][]).map(([rule, bytes, what]) => [rule, what, bytes] as never);
  test.each(cases as unknown as [string, string, Uint8Array][])('%s: %s', (rule, _what, bytes) => {
    const e = rejection(bytes);
    expect(e.code).toBe('ERR_SAFETENSORS');
    expect(e.details.rule).toBe(rule);
    expect(e.details.file).toBe('bad.safetensors');
    expect(e.message).toContain('bad.safetensors');
  });

  test("header-start: a JSON string, number or array (valid JSON, not an object) is refused before parsing", () => {
    for (const h of ['"{"', '123', '[{}]']) expect(rejection(rawFile(h)).details.rule).toBe('header-start');
  });

  test('the same rules through a real file, with details.file the path', () => {
    const file = path.join(tmp, 'bad.safetensors');
    fs.writeFileSync(file, rawFile(`{"a":${t('U8', [2], [0, 2])}}`, 3));
    const e = thrownBy(() => SafetensorsFile.open(file)) as Vit22bError;
    expect(e.details).toMatchObject({ file, rule: 'data-size-mismatch' });
    fs.writeFileSync(file, new Uint8Array(3));
    expect((thrownBy(() => SafetensorsFile.open(file)) as Vit22bError).details.rule).toBe('file-too-short');
    for (const missing of [path.join(tmp, 'no-such.safetensors'), tmp]) {
      const e = thrownBy(() => SafetensorsFile.open(missing)) as Vit22bError;
      expect(e.code).toBe('ERR_SAFETENSORS');
      expect(e.details).toMatchObject({ file: missing, rule: 'file-unreadable' });
    }
  });
});

describe('large files are never read whole', () => {
  test('a 300 MB file: opening reads the header, reading one small tensor reads its bytes, nothing more', () => {
    const file = path.join(tmp, 'large.safetensors');
    const big = 300 * 2 ** 20;
    // A sparse file: the 300 MB of zeros cost no disk and no time to write.
    const h = rawHeader({ a_big: ['F32', [big / 4], 0, big], b_small: ['F32', [4], big, big + 16] });
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, h, 0, h.length, 0);
    fs.writeSync(fd, new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer), 0, 16, h.length + big);
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBe(h.length + big + 16);

    // Spied on the module object itself (the one lib/io calls through), counting bytes returned.
    const spy = jest.spyOn(require('node:fs') as typeof fs, 'readSync');
    try {
      using f = SafetensorsFile.open(file);
      expect(new Float32Array(f.read('b_small').buffer)).toEqual(new Float32Array([1, 2, 3, 4]));
      expect(spy).toHaveBeenCalled();
      const bytesRead = spy.mock.results.reduce((s, r) => s + (r.value as number), 0);
      expect(bytesRead).toBe(h.length + 16);
    } finally {
      spy.mockRestore();
    }
  });
});

/** A header for entries [dtype, shape, begin, end], padded to 8, with its length prefix. */
function rawHeader(entries: Record<string, [string, number[], number, number]>): Uint8Array {
  const obj: Record<string, unknown> = {};
  for (const [k, [dtype, shape, b, e]] of Object.entries(entries)) obj[k] = { dtype, shape, data_offsets: [b, e] };
  const json = JSON.stringify(obj);
  return rawFile(json + ' '.repeat((8 - (json.length % 8)) % 8));
}
