// strided_copy (native/cpu/strided_copy.cc) against a JavaScript reference, bit for bit: slices,
// concatenations and broadcasts of random f32, bf16 and i32 data, with runs small and large enough
// to take the threaded path. Bytes of y outside the runs must stay untouched.
import { openDevice, stridedCopy, Vit22bError, type Device, type DType } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function randomWords(rng: () => number, n: number, dtype: DType): Float32Array | Uint16Array | Int32Array {
  if (dtype === 'bf16') return Uint16Array.from({ length: n }, () => randInt(rng, 0, 0xffff) & 0x7f7f);
  if (dtype === 'i32') return Int32Array.from({ length: n }, () => randInt(rng, -1e9, 1e9));
  return Float32Array.from({ length: n }, () => (rng() - 0.5) * 100);
}

describe('strided_copy', () => {
  const shapes: [number, number, number, number][] = [
    // batch, cols, xStride, yStride
    [1, 7, 7, 7],
    [5, 3, 8, 3], // a column slice
    [4, 6, 6, 10], // a block of a concatenation
    [6, 5, 0, 5], // a broadcast
    [300, 97, 120, 100], // threaded path
    [3, 0, 2, 0],
    [0, 4, 4, 4],
  ];
  for (const dtype of ['f32', 'bf16', 'i32'] as DType[]) {
    test.each(shapes)(`${dtype}: batch %p cols %p xStride %p yStride %p`, (batch, cols, xStride, yStride) => {
      const rng = mulberry32(batch * 1000 + cols);
      const xLen = batch === 0 ? 1 : (batch - 1) * xStride + cols + 3;
      const yLen = batch === 0 ? 1 : (batch - 1) * yStride + cols + 2;
      const xs = randomWords(rng, xLen, dtype);
      const y0 = randomWords(rng, yLen, dtype);
      using x = device.tensor(dtype, [xLen], xs);
      using y = device.tensor(dtype, [yLen], y0);
      stridedCopy(device, x, y, { batch, cols, xStride, yStride });
      const want = y0.slice();
      for (let i = 0; i < batch; ++i) for (let c = 0; c < cols; ++c) want[i * yStride + c] = xs[i * xStride + c]!;
      expect(Array.from(y.download())).toEqual(Array.from(want));
    });
  }

  test('overlapping runs of y, buffers too small, and y aliasing x are typed errors', () => {
    using x = device.tensor('f32', [20], new Float32Array(20).fill(1));
    using y = device.tensor('f32', [20], new Float32Array(20));
    const overlap = thrownBy(() => stridedCopy(device, x, y, { batch: 3, cols: 4, xStride: 4, yStride: 3 }));
    expect(overlap).toBeInstanceOf(Vit22bError);
    expect(overlap).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'yStride >= cols (4)', received: '3' });
    const small = thrownBy(() => stridedCopy(device, x, y, { batch: 3, cols: 4, xStride: 9, yStride: 4 }));
    expect(small).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    expect((small as Vit22bError).expected).toMatch(/22 f32/);
    const alias = thrownBy(() => stridedCopy(device, x, x, { batch: 1, cols: 4, xStride: 4, yStride: 4 }));
    expect(alias).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});
