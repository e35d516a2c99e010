// Philox4x32-10 and random init (native/core/philox.h, random_dist.h, native/cpu/random.cc): what
// the kernel table (test/cases/philox.ts, random_init.ts) cannot say. Random123's known answers,
// counter carries across all four words, and every distribution element by element against the
// documented mapping of its own Philox word (uniform and constant exactly; normal and truncated
// normal to one f32 rounding of a float64 quantile, tighter than this file's former Simpson check),
// f32 and bf16, with 64-bit seeds, offsets and starts, are cases there. Here:
// - philox and randomInit building the right specs (the known answers through philox; a BigInt seed
//   of 2^64 - 1 through randomInit, exactly);
// - bf16 output bit for bit the f32 output rounded to bf16 (two launches compared);
// - streams: other offsets and seeds differ, a slice with start equals the slice of the whole;
// - distributions on 10^6 samples: mean and variance within 4 standard errors, bounds, and the
//   Kolmogorov-Smirnov statistic below its 1% critical value 1.628 / sqrt(n);
// - typed errors, and bitwise independence of the thread count (child processes).
import { openDevice, philox, randomInit, Vit22bError, type Device, type InitDistribution } from '../../lib';
import { referenceBf16Bits } from '../helpers/float-reference';
import { thrownBy } from '../helpers/errors';
import { runLaunchChild } from '../helpers/launch-child';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function philoxWords(key: [number, number], counter: [number, number, number, number], blocks: number): Uint32Array {
  const out = device.alloc('i32', [4 * blocks]);
  try {
    philox(device, out, key, counter);
    const w = out.download() as Int32Array;
    return new Uint32Array(w.buffer, w.byteOffset, w.length);
  } finally {
    out.dispose();
  }
}

function generate(dtype: 'f32' | 'bf16', n: number, init: InitDistribution, stream: Parameters<typeof randomInit>[3]): Float32Array | Uint16Array {
  const t = device.alloc(dtype, [n]);
  try {
    randomInit(device, t, init, stream);
    return t.download() as Float32Array | Uint16Array;
  } finally {
    t.dispose();
  }
}

/** The Philox words of stream elements [start, start + n) by the documented counter layout. */
function streamWords(seed: bigint, offset: bigint, start: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const lo = (x: bigint): number => Number(x & 0xffffffffn);
  const hi = (x: bigint): number => Number((x >> 32n) & 0xffffffffn);
  const first = Math.floor(start / 4), last = Math.floor((start + n - 1) / 4);
  const words = philoxWords([lo(seed), hi(seed)], [lo(BigInt(first)), hi(BigInt(first)), lo(offset), hi(offset)], last - first + 1);
  for (let i = 0; i < n; i++) out[i] = words[start + i - 4 * first]!;
  return out;
}

const phi = (z: number): number => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);

/** Phi(z) = 1/2 + integral_0^z phi, by composite Simpson's rule (error ~1e-15 at this spacing). */
function cdfBySimpson(z: number): number {
  const steps = 2 * Math.max(8, Math.ceil(Math.abs(z) * 400));
  const h = z / steps;
  let s = phi(0) + phi(z);
  for (let k = 1; k < steps; k++) s += (k % 2 === 1 ? 4 : 2) * phi(k * h);
  return 0.5 + (s * h) / 3;
}

/** Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), fast enough for 10^6 KS evaluations. */
function cdfFast(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

function ksStatistic(samples: Float32Array, cdf: (x: number) => number): number {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const c = cdf(s[i]!);
    d = Math.max(d, (i + 1) / n - c, c - i / n);
  }
  return d;
}

function minOf(x: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < x.length; i++) m = Math.min(m, x[i]!);
  return m;
}

function maxOf(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  return m;
}

function moments(x: Float32Array): { mean: number; variance: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let q = 0;
  for (const v of x) q += (v - mean) ** 2;
  return { mean, variance: q / (x.length - 1) };
}

describe('philox', () => {
  test("Random123's known-answer vectors for Philox4x32-10", () => {
    expect([...philoxWords([0, 0], [0, 0, 0, 0], 1)]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect([...philoxWords([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 1)]).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect([...philoxWords([0xa4093822, 0x299f31d0], [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 1)]).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describe('randomInit', () => {
  test('bf16 output is the f32 value rounded to bf16; constant fills the value', () => {
    const f32 = generate('f32', 1000, { dist: 'normal', mean: 0.1, std: 0.02 }, { seed: 9 });
    const bf = generate('bf16', 1000, { dist: 'normal', mean: 0.1, std: 0.02 }, { seed: 9 });
    f32.forEach((x, i) => expect(bf[i]).toBe(referenceBf16Bits(x)));
    expect([...generate('f32', 5, { dist: 'constant', value: -10 }, { seed: 1 })]).toEqual([-10, -10, -10, -10, -10]);
    expect([...generate('bf16', 3, { dist: 'constant', value: 0.5 }, { seed: 1 })]).toEqual([0x3f00, 0x3f00, 0x3f00]);
  });

  test('a BigInt seed of 2^64 - 1 is the key [0xffffffff, 0xffffffff]', () => {
    const words = streamWords((1n << 64n) - 1n, 0n, 0, 8);
    const got = generate('f32', 8, { dist: 'uniform', lo: 0, hi: 1 }, { seed: (1n << 64n) - 1n });
    got.forEach((x, i) => expect(x).toBe((words[i]! >>> 8) / 2 ** 24));
  });

  test('offsets and seeds give different streams; a slice with start equals the slice of the whole', () => {
    const whole = generate('f32', 1001, { dist: 'normal', std: 1 }, { seed: 42, offset: 1 });
    const part = generate('f32', 333, { dist: 'normal', std: 1 }, { seed: 42, offset: 1, start: 501 });
    expect(Buffer.from(part.buffer).equals(Buffer.from(whole.buffer, 501 * 4, 333 * 4))).toBe(true);
    const other = generate('f32', 1001, { dist: 'normal', std: 1 }, { seed: 42, offset: 2 });
    const otherSeed = generate('f32', 1001, { dist: 'normal', std: 1 }, { seed: 43, offset: 1 });
    expect(other.filter((x, i) => x === whole[i]).length).toBeLessThan(3);
    expect(otherSeed.filter((x, i) => x === whole[i]).length).toBeLessThan(3);
  });
});

describe('randomInit distributions on 10^6 samples', () => {
  const N = 1_000_000;
  const KS_1PCT = 1.628 / Math.sqrt(N);

  test('normal(0.5, 2): mean, variance and KS', () => {
    const x = generate('f32', N, { dist: 'normal', mean: 0.5, std: 2 }, { seed: 2024 }) as Float32Array;
    const { mean, variance } = moments(x);
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(4 / N));
    expect(Math.abs(variance - 4)).toBeLessThan(4 * Math.sqrt(2 * 16 / N));
    expect(ksStatistic(x, (v) => cdfFast((v - 0.5) / 2))).toBeLessThan(KS_1PCT);
  });

  test('truncated normal(0, 1) on [-2, 2]: bounds, mean, variance and KS', () => {
    const x = generate('f32', N, { dist: 'truncated_normal', std: 1 }, { seed: 7, offset: 3 }) as Float32Array;
    const z = cdfBySimpson(2) - cdfBySimpson(-2);
    const variance0 = 1 - (4 * phi(2)) / z;
    // Fourth moment of the truncated normal, by Simpson over [-2, 2].
    let m4 = 0;
    const steps = 4000, h = 4 / steps;
    for (let k = 0; k <= steps; k++) {
      const t = -2 + k * h;
      m4 += (k === 0 || k === steps ? 1 : k % 2 ? 4 : 2) * t ** 4 * phi(t);
    }
    m4 = (m4 * h) / 3 / z;
    expect(minOf(x)).toBeGreaterThanOrEqual(-2);
    expect(maxOf(x)).toBeLessThanOrEqual(2);
    expect(maxOf(x)).toBeGreaterThan(1.99); // the tails are reached, not cut short
    const { mean, variance } = moments(x);
    expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(variance0 / N));
    expect(Math.abs(variance - variance0)).toBeLessThan(4 * Math.sqrt((m4 - variance0 ** 2) / N));
    expect(ksStatistic(x, (v) => (cdfFast(v) - cdfFast(-2)) / (cdfFast(2) - cdfFast(-2)))).toBeLessThan(KS_1PCT);
  });

  test('uniform [-3, 5): bounds, mean, variance and KS; bf16 stays below hi', () => {
    const x = generate('f32', N, { dist: 'uniform', lo: -3, hi: 5 }, { seed: 11 }) as Float32Array;
    expect(minOf(x)).toBeGreaterThanOrEqual(-3);
    expect(maxOf(x)).toBeLessThan(5);
    const { mean, variance } = moments(x);
    expect(Math.abs(mean - 1)).toBeLessThan(4 * Math.sqrt(64 / 12 / N));
    expect(Math.abs(variance - 64 / 12)).toBeLessThan(4 * Math.sqrt((8 ** 4 / 80 - (64 / 12) ** 2) / N));
    expect(ksStatistic(x, (v) => (v + 3) / 8)).toBeLessThan(KS_1PCT);
    // [0.9, 1.1) in bf16: values that round up to 1.1's bf16 neighbour must come back below 1.1.
    const b = generate('bf16', 100000, { dist: 'uniform', lo: 0.9, hi: 1.1 }, { seed: 12 }) as Uint16Array;
    const values = Array.from(b, (bits) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!);
    expect(maxOf(values)).toBeLessThan(1.1);
    expect(minOf(values)).toBeGreaterThanOrEqual(0.9);
  });
});

describe('randomInit argument errors', () => {
  test('typed errors for dtypes, distributions, scalars, seeds and sizes', () => {
    const i32 = device.alloc('i32', [8]), t = device.alloc('f32', [8]);
    try {
      expect(thrownBy(() => randomInit(device, i32, { dist: 'normal', std: 1 }, { seed: 1 }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      expect(thrownBy(() => randomInit(device, t, { dist: 'uniform', lo: 1, hi: 1 }, { seed: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => randomInit(device, t, { dist: 'normal', std: -1 }, { seed: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => randomInit(device, t, { dist: 'cauchy' } as unknown as InitDistribution, { seed: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => randomInit(device, t, { dist: 'normal', std: 1 }, { seed: -1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => randomInit(device, t, { dist: 'normal', std: 1 }, { seed: 1n << 64n }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => philox(device, t, [0, 0], [0, 0, 0, 0]))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      const raw = (patch: Record<string, unknown>): unknown =>
        thrownBy(() => device.native.launch('random_init', { dtype: 'f32', dist: 'normal', seed: 1, offset: 0, start: 0, n: 8, a: 0, b: 1, out: t.buffer, ...patch }));
      expect(raw({ n: 9 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 36 bytes (9 f32)', received: '32 bytes' });
      expect(raw({ start: (1n << 64n) - 4n })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'start + n <= 2^64' });
      expect(raw({ seed: 1n << 64n })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ dist: 'gamma' })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ b: Infinity })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ dtype: 'u8' })).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      const rawPhilox = (patch: Record<string, unknown>): unknown =>
        thrownBy(() => device.native.launch('philox', { key: [0, 0], counter: [0, 0, 0, 0], blocks: 2, out: i32.buffer, ...patch }));
      expect(rawPhilox({ blocks: 3 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 48 bytes (12 i32)' });
      expect(rawPhilox({ key: [0, 2 ** 32] })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(rawPhilox({ counter: [0, 0, 0] })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    } finally {
      i32.dispose();
      t.dispose();
    }
    const gone = device.alloc('f32', [4]);
    gone.dispose();
    const err = thrownBy(() => randomInit(device, gone, { dist: 'normal', std: 1 }, { seed: 1 }));
    expect(err).toBeInstanceOf(Vit22bError);
    expect(err).toMatchObject({ code: 'ERR_DISPOSED' });
  });
});

describe('in a child process', () => {
  test('values are bitwise identical with 1, 3 and the default number of threads', () => {
    const n = 200003;
    const jobs = (['uniform', 'normal', 'truncated_normal'] as const).flatMap((dist) =>
      (['f32', 'bf16'] as const).map((dtype) => ({
        kernel: 'random_init',
        spec: { dtype, dist, seed: 77, offset: 4, start: 5, n, a: -0.5, b: 0.75 },
        buffers: { out: new Uint8Array(n * (dtype === 'f32' ? 4 : 2)).fill(0xaa) } as Record<string, ArrayBufferView>,
      })),
    );
    const reference = runLaunchChild(jobs, {});
    for (const threads of ['1', '3']) expect(runLaunchChild(jobs, { VIT22B_NUM_THREADS: threads })).toEqual(reference);
    // The default run produced the values this process produces too.
    const here = generate('f32', n, { dist: 'normal', mean: -0.5, std: 0.75 }, { seed: 77, offset: 4, start: 5 });
    expect(Buffer.from(reference[2]!.out!, 'base64').equals(Buffer.from(here.buffer))).toBe(true);
  });
});
