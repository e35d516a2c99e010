// clip_scale (native/cpu/clip_scale.cc) through clipScale: what the kernel table
// (test/cases/clip_scale.ts) cannot say. The bit-for-bit comparisons of edge norms (zeros,
// subnormals, ties at the limit, the f32 maximum, infinities, NaN) and random norms and limits over
// many magnitudes against the correctly rounded f32 quotient maxNorm / norm are cases there. Here:
// one correctness check of the wrapper, and the typed errors of the wrapper and the launcher.
import { clipScale, openDevice, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function run(norm: number, maxNorm: number): number {
  using n = device.tensor('f32', [1], new Float32Array([norm]));
  using s = device.tensor('f32', [1], new Float32Array([12345]));
  clipScale(device, n, s, maxNorm);
  return (s.download() as Float32Array)[0]!;
}

describe('clip_scale', () => {
  test('clipScale: a norm above the limit scales it to the limit; at or below, the scale is exactly 1', () => {
    expect(run(4, 2)).toBe(0.5);
    expect(run(2, 2)).toBe(1);
    expect(run(0, 2)).toBe(1);
    expect(Number.isNaN(run(Infinity, 2))).toBe(true); // an overflowed gradient stays visible
  });

  test('typed errors', () => {
    using n = device.tensor('f32', [1], new Float32Array([1]));
    using s = device.alloc('f32', [1]);
    using two = device.alloc('f32', [2]);
    using b = device.alloc('bf16', [1]);
    for (const maxNorm of [0, -1, NaN, Infinity, 1e-50, 1e39]) {
      expect(thrownBy(() => clipScale(device, n, s, maxNorm))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    expect(thrownBy(() => clipScale(device, two, s, 1))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[1]', received: '[2]' });
    expect(thrownBy(() => clipScale(device, n, b, 1))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', received: 'bf16' });
    const same = thrownBy(() => clipScale(device, n, n, 1));
    expect(same).toBeInstanceOf(Vit22bError);
    expect(same).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'the same buffer' });
    // The native launcher's own checks, below the TypeScript ones.
    const raw = (spec: object) => thrownBy(() => device.native.launch('clip_scale', { norm: n.buffer, maxNorm: 1, scale: s.buffer, ...spec }));
    expect(raw({ maxNorm: 1e-50 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'maxNorm > 0 in f32' });
    expect(raw({ maxNorm: -2 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(raw({ scale: 3 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'BufferHandle' });
    using empty = device.alloc('u8', [3]);
    expect(raw({ norm: empty.buffer })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 4 bytes (1 f32)', received: '3 bytes' });
  });
});
