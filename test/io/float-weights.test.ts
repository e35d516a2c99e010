/**
 * Weights stored as F16, BF16 or F64 read as f32 (lib/io/float-weights.ts): known bit patterns
 * (IEEE half: 1, -2, the largest finite, the smallest subnormal and normal, infinity, 1/3 rounded),
 * bf16 as truncated f32, F64 rounded; other dtypes are ERR_DTYPE_MISMATCH naming the tensor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFloatTensor } from '../../lib/io/float-weights';
import { SafetensorsFile, writeSafetensors } from '../../lib/io/safetensors';
import type { Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-floatw-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('F16, BF16, F64 and F32 tensors read as the f32 values they hold; I32 is refused', () => {
  const half = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0x3555, 0x8000]);
  const halfWant = [1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, 0.333251953125, -0];
  const f32 = new Float32Array([1.5, -0.09375, 3.0517578125e-5, -122880]);
  const bf16 = new Uint16Array(Array.from(new Uint32Array(f32.buffer), (b) => b >>> 16));
  const f64 = new Float64Array([0.1, -1e-3, 2 ** 100]);
  const file = path.join(dir, 'w.safetensors');
  writeSafetensors(file, {
    h: { dtype: 'F16', shape: [8], data: half },
    b: { dtype: 'BF16', shape: [4], data: bf16 },
    d: { dtype: 'F64', shape: [3], data: f64 },
    f: { dtype: 'F32', shape: [4], data: f32 },
    i: { dtype: 'I32', shape: [1], data: new Int32Array([1]) },
  });
  using f = SafetensorsFile.open(file);
  expect(Array.from(readFloatTensor(f, 'h'))).toEqual(halfWant);
  expect(Object.is(readFloatTensor(f, 'h')[7], -0)).toBe(true);
  // These four values have at most 8 significant bits: bf16 holds them exactly.
  expect(Array.from(readFloatTensor(f, 'b'))).toEqual(Array.from(f32));
  expect(readFloatTensor(f, 'd')).toEqual(Float32Array.from(f64));
  expect(readFloatTensor(f, 'f')).toEqual(f32);
  const e = thrownBy(() => readFloatTensor(f, 'i')) as Vit22bError;
  expect([e.code, e.details.tensor, e.details.received]).toEqual(['ERR_DTYPE_MISMATCH', 'i', 'I32']);
});
