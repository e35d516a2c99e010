// openDevice({ device: 'cpu' }): tensors, axpby against float64 references, disposal, typed errors.
// The axpby comparisons that the kernel table (test/cases/axpby.ts) makes at least as strictly are
// there, not here: beta = 0 with a NaN-poisoned y (exact) and bf16 rounding ties (exact). The f32 and
// bf16 comparisons and x aliasing y stay: their bound, 2^-22 (f32) or 2^-8 (bf16) times
// |alpha x| + |beta y|, is tighter than the table's { abs: 1e-6, rel: 1e-6 } / { abs: 1e-6, rel: 2^-8 }.
import * as fs from 'node:fs';

import { cudaStatus } from '../../lib/runtime/cuda-status';
import { Device, openDevice, type DeviceRequest } from '../../lib/runtime/device';
import { isVit22bError, Vit22bError } from '../../lib/runtime/errors';
import { DeviceTensor } from '../../lib/runtime/tensor';
import { thrownBy } from '../helpers/errors';
import { axpbyReference, decodeBf16, firstViolation, isBf16NaN, referenceBf16Bits } from '../helpers/float-reference';
import { mulberry32, randInt, randomBf16BitsArray, randomF32Array, randomScalar, randU32 } from '../helpers/prng';

const SIZES = [1, 3, 17, 129, 1031, 65537];

/** Asserts `e` is a Vit22bError with `code`, and returns it for checks on expected/received. */
function vitError(e: unknown, code: string): Vit22bError {
  expect(e).toBeInstanceOf(Vit22bError);
  expect((e as Vit22bError).code).toBe(code);
  return e as Vit22bError;
}

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  // Every test disposes what it allocates: nothing may be left for the garbage collector.
  expect(device.stats().liveBuffers).toBe(0);
  expect(device.stats().liveBytes).toBe(0);
  expect(device.stats().reclaimedByGc).toBe(0);
  device.dispose();
});

describe('device selection', () => {
  test("'cpu' opens the CPU and says it was requested", () => {
    using d = openDevice({ device: 'cpu' });
    expect(d.kind).toBe('cpu');
    expect(d.name).toMatch(/^cpu\b/);
    expect(d.selection.requested).toBe('cpu');
    expect(d.selection.kind).toBe('cpu');
    expect(d.selection.reason).toMatch(/requested/);
    expect(fs.statSync(d.selection.addonPath).isFile()).toBe(true);
    expect(d.selection.addonPath).toMatch(/\.node$/);
  });

  test("'auto' (the default) takes CUDA exactly when CUDA is available, and says why", () => {
    const status = cudaStatus();
    using d = openDevice();
    expect(d.selection.requested).toBe('auto');
    if (status.available) {
      expect(d.kind).toBe('cuda');
      expect(d.selection.kind).toBe('cuda');
      expect(d.selection.reason).toMatch(/CUDA is available/);
    } else {
      expect(d.kind).toBe('cpu');
      expect(d.selection.kind).toBe('cpu');
      // The reason names CUDA and carries the probe's own explanation.
      expect(d.selection.reason).toMatch(/CUDA/);
      expect(status.reason!.length).toBeGreaterThan(0);
      expect(d.selection.reason).toContain(status.reason!);
    }
  });

  test("'cuda' never falls back: it opens a GPU or throws ERR_CUDA_UNAVAILABLE with the cause", () => {
    const status = cudaStatus();
    if (status.available) {
      using d = openDevice({ device: 'cuda' });
      expect(d.kind).toBe('cuda');
      return;
    }
    const e = vitError(thrownBy(() => openDevice({ device: 'cuda' })), 'ERR_CUDA_UNAVAILABLE');
    expect(e.received).toBe(status.reasonCode);
    expect(e.expected).toMatch(/driver/);
    expect(e.message).toContain(status.reason!);
  });

  test('an unknown device name is ERR_INVALID_ARGUMENT naming it', () => {
    const e = vitError(thrownBy(() => openDevice({ device: 'tpu' as DeviceRequest })), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toBe('tpu');
    for (const kind of ['auto', 'cpu', 'cuda']) expect(e.expected).toContain(kind);
  });

  test.each([-1, 0.5, Number.NaN])('ordinal %p is ERR_INVALID_ARGUMENT', (ordinal) => {
    const e = vitError(thrownBy(() => openDevice({ device: 'cpu', ordinal })), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toBe(String(ordinal));
    expect(e.expected).toMatch(/integer/);
  });
});

describe('tensors', () => {
  test('alloc gives the shape, size, bytes and dtype asked for, and counts in stats', () => {
    const before = device.stats();
    using t = device.alloc('f32', [3, 5, 7]);
    expect(t).toBeInstanceOf(DeviceTensor);
    expect(t.shape).toEqual([3, 5, 7]);
    expect(t.size).toBe(105);
    expect(t.bytes).toBe(420);
    expect(t.dtype).toBe('f32');
    expect(t.deviceName).toBe(device.name);
    expect(t.disposed).toBe(false);
    using b = device.alloc('bf16', [9]);
    expect(b.bytes).toBe(18);
    const after = device.stats();
    expect(after.liveBuffers).toBe(before.liveBuffers + 2);
    expect(after.liveBytes).toBe(before.liveBytes + 420 + 18);
  });

  test('f32 upload / download is bit-exact for every bit pattern, NaNs included (seed 11)', () => {
    const rng = mulberry32(11);
    const n = 4099;
    const bits = Uint32Array.from({ length: n }, () => randU32(rng));
    using t = device.tensor('f32', [n], new Float32Array(bits.buffer));
    const out = t.download();
    expect(out).toBeInstanceOf(Float32Array);
    expect(new Uint32Array(out.buffer, out.byteOffset, n)).toEqual(bits);
    const f = t.toFloat32();
    expect(new Uint32Array(f.buffer, f.byteOffset, n)).toEqual(bits);
  });

  test('bf16 from a Uint16Array uploads the raw bits unchanged (seed 12)', () => {
    const rng = mulberry32(12);
    const n = 1031;
    const raw = Uint16Array.from({ length: n }, () => randInt(rng, 0, 0xffff));
    using t = device.tensor('bf16', [n], raw);
    const out = t.download();
    expect(out).toBeInstanceOf(Uint16Array);
    expect(out).toEqual(raw);
    // toFloat32 widens exactly: each value is the decoded bf16 (NaN patterns decode to NaN).
    const wide = t.toFloat32();
    expect(wide).toBeInstanceOf(Float32Array);
    for (let i = 0; i < n; i++) {
      if (isBf16NaN(raw[i]!)) expect(Number.isNaN(wide[i])).toBe(true);
      else expect(wide[i]).toBe(decodeBf16(raw[i]!));
    }
  });

  test('bf16 from a Float32Array is rounded to nearest even on the way in (seed 13)', () => {
    const rng = mulberry32(13);
    const n = 1031;
    const x = randomF32Array(rng, n, -60, 60);
    // Exact ties too: 1 + 2^-8 -> 1 (even), 1 + 3*2^-8 -> 1 + 2^-6 (even), and their negatives.
    x.set([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), -(1 + 3 * 2 ** -8)], 0);
    using t = device.tensor('bf16', [n], x);
    const out = t.download() as Uint16Array;
    for (let i = 0; i < n; i++) expect(out[i]).toBe(referenceBf16Bits(x[i]!));
    expect(Array.from(t.toFloat32().subarray(0, 4))).toEqual([1, 1 + 2 ** -6, -1, -(1 + 2 ** -6)]);
  });

  test('i32 and u8 tensors round-trip; toFloat32 converts them (seed 14)', () => {
    const rng = mulberry32(14);
    const ints = Int32Array.from({ length: 129 }, () => randU32(rng) | 0);
    const bytes = Uint8Array.from({ length: 129 }, () => randInt(rng, 0, 255));
    using ti = device.tensor('i32', [129], ints);
    using tb = device.tensor('u8', [129], bytes);
    expect(ti.download()).toEqual(ints);
    expect(tb.download()).toEqual(bytes);
    const fi = ti.toFloat32();
    for (let i = 0; i < 129; i++) expect(fi[i]).toBe(Math.fround(ints[i]!));
  });

  test('upload returns the tensor and replaces its contents', () => {
    using t = device.tensor('f32', [3], new Float32Array([1, 2, 3]));
    expect(t.upload(new Float32Array([4.5, -5, 6.25]))).toBe(t);
    expect(Array.from(t.download())).toEqual([4.5, -5, 6.25]);
  });

  test('a scalar (shape []) holds one element; a zero-size tensor holds none', () => {
    using s = device.tensor('f32', [], new Float32Array([2.5]));
    expect(s.size).toBe(1);
    expect(Array.from(s.download())).toEqual([2.5]);
    using z = device.alloc('f32', [4, 0]);
    expect(z.size).toBe(0);
    expect(z.download().length).toBe(0);
  });
});

describe('axpby', () => {
  describe.each(SIZES)('n = %i', (n) => {
    test('f32 matches a float64 reference (seeded)', () => {
      const rng = mulberry32(1000 + n);
      const x = randomF32Array(rng, n, -20, 20);
      const y = randomF32Array(rng, n, -20, 20);
      const alpha = randomScalar(rng);
      const beta = randomScalar(rng);
      using tx = device.tensor('f32', [n], x);
      using ty = device.tensor('f32', [n], y);
      device.axpby(alpha, tx, beta, ty);
      const got = ty.toFloat32();
      // Tolerance: the kernel rounds alpha and beta to f32 and then rounds each product and the
      // sum once (or fuses them): at most ~3 roundings of 2^-24 relative to |alpha*x| + |beta*y|.
      // Bound used: |got - ref| <= 2^-22 * (|alpha*x| + |beta*y|) + 1e-30.
      const { ref, scale } = axpbyReference(alpha, x, beta, y);
      expect(firstViolation(got, ref, scale, 2 ** -22, 1e-30)).toBeNull();
      // x is read only.
      expect(tx.download()).toEqual(x);
    });

    test('bf16 matches a float64 reference from the decoded bf16 inputs (seeded)', () => {
      const rng = mulberry32(2000 + n);
      const xb = randomBf16BitsArray(rng, n, -20, 20);
      const yb = randomBf16BitsArray(rng, n, -20, 20);
      const alpha = randomScalar(rng);
      const beta = randomScalar(rng);
      using tx = device.tensor('bf16', [n], xb);
      using ty = device.tensor('bf16', [n], yb);
      device.axpby(alpha, tx, beta, ty);
      const got = ty.toFloat32();
      // Tolerance: f32 arithmetic (~3 * 2^-24) then one rounding to bf16 (2^-9 relative):
      // |got - ref| <= 2^-8 * (|alpha*x| + |beta*y|) + 1e-30, ref in float64 from the bf16 inputs.
      const x = Array.from(xb, decodeBf16);
      const y = Array.from(yb, decodeBf16);
      const { ref, scale } = axpbyReference(alpha, x, beta, y);
      expect(firstViolation(got, ref, scale, 2 ** -8, 1e-30)).toBeNull();
      expect(tx.download()).toEqual(xb);
    });
  });

  test('x and y may be the same tensor: y = (alpha + beta) * y', () => {
    const rng = mulberry32(16);
    const y = randomF32Array(rng, 17, -5, 5);
    using t = device.tensor('f32', [17], y);
    device.axpby(1.5, t, 0.25, t);
    const { ref, scale } = axpbyReference(1.5, y, 0.25, y);
    expect(firstViolation(t.toFloat32(), ref, scale, 2 ** -22, 1e-30)).toBeNull();
  });
});

describe('disposal', () => {
  test('`using` disposes at the end of the block, also when the block throws', () => {
    const before = device.stats().liveBuffers;
    const beforeBytes = device.stats().liveBytes;
    let kept: DeviceTensor | undefined;
    {
      using a = device.alloc('f32', [17]);
      using b = device.tensor('bf16', [3], new Uint16Array([0x3f80, 0x4000, 0x4040]));
      kept = a;
      expect(device.stats().liveBuffers).toBe(before + 2);
      expect(device.stats().liveBytes).toBe(beforeBytes + 17 * 4 + 3 * 2);
      void b;
    }
    expect(kept.disposed).toBe(true);
    expect(device.stats().liveBuffers).toBe(before);
    expect(device.stats().liveBytes).toBe(beforeBytes);

    expect(() => {
      using c = device.alloc('f32', [5]);
      void c;
      throw new Error('boom');
    }).toThrow('boom');
    expect(device.stats().liveBuffers).toBe(before);
  });

  test('a device opened with `using` is disposed at the end of its block', () => {
    let d: Device;
    {
      using opened = openDevice({ device: 'cpu' });
      d = opened;
      using t = d.alloc('f32', [1]);
      void t;
    }
    vitError(thrownBy(() => d.alloc('f32', [1])), 'ERR_DISPOSED');
  });

  test('a disposed tensor refuses every use with ERR_DISPOSED; disposing twice is harmless', () => {
    const before = device.stats().liveBuffers;
    const t = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    using other = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(device.stats().liveBuffers).toBe(before + 1);
    for (const use of [
      () => t.download(),
      () => t.toFloat32(),
      () => t.upload(new Float32Array(4)),
      () => device.axpby(1, t, 1, other),
      () => device.axpby(1, other, 1, t),
    ]) {
      const e = vitError(thrownBy(use), 'ERR_DISPOSED');
      expect(e.received).toMatch(/disposed/);
    }
    t.dispose();
    t[Symbol.dispose]();
    expect(device.stats().liveBuffers).toBe(before + 1);
  });

  test('a disposed device refuses allocations; its tensors stay usable; disposing twice is harmless', () => {
    const d = openDevice({ device: 'cpu' });
    const t = d.tensor('f32', [2], new Float32Array([7, 8]));
    d.dispose();
    d.dispose();
    const e = vitError(thrownBy(() => d.alloc('f32', [1])), 'ERR_DISPOSED');
    expect(e.received).toMatch(/disposed/);
    vitError(thrownBy(() => d.axpby(1, t, 1, t)), 'ERR_DISPOSED');
    expect(Array.from(t.download())).toEqual([7, 8]);
    expect(d.stats().liveBuffers).toBe(1);
    t.dispose();
    expect(d.stats().liveBuffers).toBe(0);
  });
});

describe('typed errors', () => {
  test('an Int32Array into an f32 tensor is ERR_DTYPE_MISMATCH, and tensor() frees what it allocated', () => {
    const before = device.stats().liveBuffers;
    const e = vitError(thrownBy(() => device.tensor('f32', [4], new Int32Array(4))), 'ERR_DTYPE_MISMATCH');
    expect(e.expected).toContain('Float32Array');
    expect(e.received).toBe('Int32Array');
    expect(device.stats().liveBuffers).toBe(before);
  });

  test('a bf16 tensor takes a Uint16Array or a Float32Array, nothing else', () => {
    using t = device.alloc('bf16', [4]);
    const e = vitError(thrownBy(() => t.upload(new Uint8Array(4))), 'ERR_DTYPE_MISMATCH');
    expect(e.expected).toContain('Uint16Array');
    expect(e.expected).toContain('Float32Array');
    expect(e.received).toBe('Uint8Array');
  });

  test.each([3, 5])('a Float32Array of %i elements into a 4-element tensor is ERR_SHAPE_MISMATCH', (len) => {
    const before = device.stats().liveBuffers;
    const e = vitError(thrownBy(() => device.tensor('f32', [2, 2], new Float32Array(len))), 'ERR_SHAPE_MISMATCH');
    expect(e.expected).toContain('4');
    expect(e.received).toContain(String(len));
    expect(device.stats().liveBuffers).toBe(before);
  });

  test('axpby on x and y of different dtypes is ERR_DTYPE_MISMATCH naming both', () => {
    using x = device.tensor('f32', [3], new Float32Array([1, 2, 3]));
    using y = device.tensor('bf16', [3], new Uint16Array([0x3f80, 0x3f80, 0x3f80]));
    const e = vitError(thrownBy(() => device.axpby(1, x, 1, y)), 'ERR_DTYPE_MISMATCH');
    expect([e.expected, e.received].sort()).toEqual(['bf16', 'f32']);
    expect(Array.from(y.download())).toEqual([0x3f80, 0x3f80, 0x3f80]); // untouched
  });

  test('axpby on x and y of different sizes is ERR_SHAPE_MISMATCH naming both shapes', () => {
    using x = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    using y = device.tensor('f32', [5], new Float32Array([1, 2, 3, 4, 5]));
    const e = vitError(thrownBy(() => device.axpby(1, x, 1, y)), 'ERR_SHAPE_MISMATCH');
    expect([e.expected, e.received].sort()).toEqual(['[4]', '[5]']);
    expect(Array.from(y.download())).toEqual([1, 2, 3, 4, 5]);
  });

  test('axpby on i32 tensors is ERR_DTYPE_MISMATCH', () => {
    using x = device.tensor('i32', [2], new Int32Array([1, 2]));
    using y = device.tensor('i32', [2], new Int32Array([3, 4]));
    const e = vitError(thrownBy(() => device.axpby(1, x, 1, y)), 'ERR_DTYPE_MISMATCH');
    expect(e.received).toBe('i32');
  });

  test('axpby across two devices is ERR_DEVICE_MISMATCH', () => {
    using other = openDevice({ device: 'cpu' });
    using x = other.tensor('f32', [2], new Float32Array([1, 2]));
    using y = device.tensor('f32', [2], new Float32Array([3, 4]));
    vitError(thrownBy(() => device.axpby(1, x, 1, y)), 'ERR_DEVICE_MISMATCH');
    expect(Array.from(y.download())).toEqual([3, 4]);
  });

  test.each([
    { name: 'a negative dimension', shape: [2, -1], received: '[2,-1]' },
    { name: 'a non-integer dimension', shape: [1.5], received: '[1.5]' },
    { name: 'a NaN dimension', shape: [Number.NaN], received: '[null]' },
    { name: 'a dimension beyond 2^53', shape: [2 ** 53 + 2], received: `[${2 ** 53 + 2}]` },
  ])('$name is ERR_INVALID_ARGUMENT', ({ shape, received }) => {
    const before = device.stats().liveBuffers;
    const e = vitError(thrownBy(() => device.alloc('f32', shape)), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toBe(received);
    expect(e.expected).toMatch(/integer/);
    expect(device.stats().liveBuffers).toBe(before);
  });

  test('a shape whose byte size is beyond 2^53 is ERR_INVALID_ARGUMENT, before any allocation', () => {
    const before = device.stats().liveBuffers;
    // 2^28 * 2^28 f32 elements = 2^58 bytes: each dimension is fine, the product is not.
    const e = vitError(thrownBy(() => device.alloc('f32', [2 ** 28, 2 ** 28])), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toContain(String(2 ** 58));
    expect(device.stats().liveBuffers).toBe(before);
  });

  test('a shape that is not an array is ERR_INVALID_ARGUMENT', () => {
    const e = vitError(thrownBy(() => device.alloc('f32', 4 as unknown as number[])), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toBe('4');
  });

  test.each(['f64', 'F32', '', 'float32'])('dtype %p is ERR_INVALID_ARGUMENT listing the dtypes', (dtype) => {
    const e = vitError(thrownBy(() => device.alloc(dtype as 'f32', [1])), 'ERR_INVALID_ARGUMENT');
    expect(e.received).toBe(dtype);
    for (const d of ['f32', 'bf16', 'i32', 'u8']) expect(e.expected).toContain(d);
  });

  test('a host allocation that cannot succeed is ERR_HOST_OOM, and the device still works after', () => {
    // 2^50 bytes (1 PiB) is more than any machine's address space allows.
    const e = vitError(thrownBy(() => device.alloc('u8', [2 ** 50])), 'ERR_HOST_OOM');
    expect(e.message).toContain(String(2 ** 50));
    using ok = device.tensor('f32', [2], new Float32Array([1, 2]));
    expect(Array.from(ok.download())).toEqual([1, 2]);
  });

  test('errors from native code are Vit22bError instances too', () => {
    using t = device.alloc('f32', [1]);
    t.dispose();
    const e = thrownBy(() => t.download());
    expect(isVit22bError(e, 'ERR_DISPOSED')).toBe(true);
  });
});

describe('host data types', () => {
  test('a u8 tensor takes a Node Buffer (a Uint8Array subclass)', () => {
    using t = device.tensor('u8', [4], Buffer.from([1, 2, 250, 255]));
    expect(Array.from(t.download())).toEqual([1, 2, 250, 255]);
  });

  test('bf16 axpby with beta = 0 keeps the sign of a negative zero, as f32 does', () => {
    // alpha * x = 2 * -0 = -0; adding a +0 "old y" term would turn it into +0.
    using x = device.tensor('bf16', [1], new Uint16Array([0x8000]));
    using y = device.tensor('bf16', [1], new Uint16Array([0x3f80]));
    device.axpby(2, x, 0, y);
    expect((y.download() as Uint16Array)[0]).toBe(0x8000);
  });
});
