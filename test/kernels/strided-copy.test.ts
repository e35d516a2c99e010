// strided_copy (native/cpu/strided_copy.cc) through stridedCopy: what the kernel table
// (test/cases/strided_copy.ts) cannot say. The bit-for-bit comparisons of slices, concatenations,
// broadcasts, long and short runs and empty copies of f32, bf16 and i32 data, with the elements of y
// outside the runs untouched, are cases there. Here: one correctness check of the wrapper (both
// strides wider than the runs) and the typed errors for overlapping runs, short buffers and aliasing.
import { openDevice, stridedCopy, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { mulberry32 } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function randomWords(rng: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng() - 0.5) * 100);
}

describe('strided_copy', () => {
  test('stridedCopy: runs of x copied to runs of y, the rest of y untouched (f32, both strides wider than the runs)', () => {
    const [batch, cols, xStride, yStride] = [7, 5, 8, 6];
    const rng = mulberry32(7005);
    const xLen = (batch - 1) * xStride + cols + 3;
    const yLen = (batch - 1) * yStride + cols + 2;
    const xs = randomWords(rng, xLen);
    const y0 = randomWords(rng, yLen);
    using x = device.tensor('f32', [xLen], xs);
    using y = device.tensor('f32', [yLen], y0);
    stridedCopy(device, x, y, { batch, cols, xStride, yStride });
    const want = y0.slice();
    for (let i = 0; i < batch; ++i) for (let c = 0; c < cols; ++c) want[i * yStride + c] = xs[i * xStride + c]!;
    expect(Array.from(y.download())).toEqual(Array.from(want));
  });

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
