// assert_finite (native/cpu/assert_finite.cc): silent on finite values, ERR_NON_FINITE naming the
// value and the bad element on NaN, +inf and -inf; bad arguments are typed errors.
import { assertFinite, openDevice, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

describe('assert_finite', () => {
  test('finite values pass, including the extremes of f32 and -0', () => {
    using x = device.tensor('f32', [5], new Float32Array([0, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45]));
    expect(() => assertFinite(device, x, 'loss')).not.toThrow();
    using empty = device.alloc('f32', [0]);
    expect(() => assertFinite(device, empty)).not.toThrow();
  });

  test.each([
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
  ])('%s throws ERR_NON_FINITE naming the value and the element', (bad, text) => {
    using one = device.tensor('f32', [1], new Float32Array([bad]));
    const e = thrownBy(() => assertFinite(device, one, 'gradNorm')) as Vit22bError;
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code: 'ERR_NON_FINITE', expected: 'a finite gradNorm', received: text });
    expect(e.message).toMatch(/^gradNorm is /);
    using many = device.tensor('f32', [4], new Float32Array([1, 2, bad, 4]));
    expect((thrownBy(() => assertFinite(device, many, 'loss')) as Error).message).toContain('loss[2]');
  });

  test('bad arguments are typed errors', () => {
    using b = device.alloc('bf16', [1]);
    expect(thrownBy(() => assertFinite(device, b))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
    using x = device.alloc('f32', [2]);
    expect(thrownBy(() => assertFinite(device, x, ''))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(thrownBy(() => device.native.launch('assert_finite', { x: x.buffer, n: 3, what: 'loss' }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  });
});
