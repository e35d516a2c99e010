// Mean pooling, patchify / unpatchify and the position embedding (native/cpu/mean_pool.cc,
// patchify.cc, pos_embed.cc) against float64 references, with finite-difference checks of each
// backward on the float64 forward, typed errors and thread-count independence.
// Tolerances:
//   mean_pool (f32 sums of T values):  |err| <= (T + 2) 2^-24 mean|x| (+ 2^-8 |ref| for bf16 out)
//   mean_pool_bwd, pos_embed_add:      one rounding: 2^-24 |ref| (f32), 2^-8 |ref| (bf16)
//   pos_embed_bwd (f32 sums of B):     (B + 1) 2^-24 sum|dx| (+ 2^-8 |ref| for bf16 dpos)
//   patchify / unpatchify:             exact (a permutation)
import {
  addPositionEmbedding,
  meanPool,
  meanPoolBackward,
  openDevice,
  patchify,
  positionEmbeddingBackward,
  unpatchify,
  Vit22bError,
  type Device,
} from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { centralDifferences, dot, randomValues, runInChild, tensorOf, type ChildJob, type Storage } from '../helpers/kernel-runs';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

const DTYPES: Storage[] = ['f32', 'bf16'];
const u = 2 ** -24;

function codeOf(fn: () => unknown): string {
  const e = thrownBy(fn);
  expect(e).toBeInstanceOf(Vit22bError);
  return (e as Vit22bError).code;
}

function within(got: ArrayLike<number>, ref: ArrayLike<number>, bound: (i: number) => number): string | null {
  if (got.length !== ref.length) return `length ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i]! - ref[i]!) <= bound(i))) return `element ${i}: got ${got[i]}, reference ${ref[i]}, bound ${bound(i)}`;
  }
  return null;
}

// ---- float64 references ----
function meanPoolRef(x: Float64Array, b: number, t: number, d: number): { y: Float64Array; absMean: Float64Array } {
  const y = new Float64Array(b * d), absMean = new Float64Array(b * d);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < t; k++) {
      for (let j = 0; j < d; j++) {
        const v = x[(i * t + k) * d + j]!;
        y[i * d + j] = y[i * d + j]! + v / t;
        absMean[i * d + j] = absMean[i * d + j]! + Math.abs(v) / t;
      }
    }
  }
  return { y, absMean };
}

/** patches[b, gy*gw + gx, (py*p + px)*c + ch] = images[b, gy*p + py, gx*p + px, ch], by the index formula. */
function patchifyRef(img: Float64Array, b: number, h: number, w: number, c: number, p: number): Float64Array {
  const out = new Float64Array(img.length);
  const gh = h / p, gw = w / p;
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const gy = Math.floor(y / p), py = y % p, gx = Math.floor(x / p), px = x % p;
          out[((n * gh * gw + gy * gw + gx) * p * p + py * p + px) * c + ch] = img[((n * h + y) * w + x) * c + ch]!;
        }
  return out;
}

describe('mean pooling', () => {
  const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 17, 5], [2, 129, 600], [5, 3, 1030], [1, 7, 513]];

  test.each(DTYPES)('%s: forward against the float64 mean', (dtype) => {
    const rng = mulberry32(41);
    for (const [b, t, d] of SHAPES) {
      const x = randomValues(rng, b * t * d, -3, 3, dtype);
      using xt = tensorOf(device, dtype, [b, t, d], x);
      using y = device.alloc(dtype, [b, d]);
      meanPool(device, xt, y);
      const { y: ref, absMean } = meanPoolRef(x, b, t, d);
      const rel = dtype === 'f32' ? 0 : 2 ** -8;
      expect(within(y.toFloat32(), ref, (i) => (t + 2) * u * absMean[i]! + rel * Math.abs(ref[i]!))).toBeNull();
    }
  });

  test.each(DTYPES)('%s: backward against dy / T, and against central differences of w . meanPool(x)', (dtype) => {
    const rng = mulberry32(42);
    for (const [b, t, d] of SHAPES) {
      const w = randomValues(rng, b * d, -2, 2, dtype);
      using dy = tensorOf(device, dtype, [b, d], w);
      using dx = device.alloc(dtype, [b, t, d]);
      meanPoolBackward(device, dy, dx);
      const got = dx.toFloat32();
      const ref = Float64Array.from({ length: b * t * d }, (_, i) => w[Math.floor(i / (t * d)) * d + (i % d)]! / t);
      const rel = dtype === 'f32' ? u : 2 ** -8;
      expect(within(got, ref, (i) => rel * Math.abs(ref[i]!))).toBeNull();
      const x = randomValues(rng, b * t * d, -1, 1, 'f32');
      const idx = Array.from({ length: 10 }, () => randInt(rng, 0, b * t * d - 1));
      const fd = centralDifferences((v) => dot(w, meanPoolRef(v, b, t, d).y), x, idx, 1e-3);
      expect(within(idx.map((i) => got[i]!), fd, (k) => rel * Math.abs(fd[k]!) + 1e-9)).toBeNull();
    }
  });
});

describe('patchify', () => {
  const CASES: [number, number, number, number, number][] = [
    [1, 1, 1, 1, 1],
    [2, 6, 9, 3, 3],
    [3, 4, 8, 1, 4],
    [1, 28, 14, 5, 14],
    [2, 32, 48, 3, 16],
  ];

  test.each(DTYPES)('%s: patches follow the documented index formula; unpatchify inverts it exactly', (dtype) => {
    const rng = mulberry32(51);
    for (const [b, h, w, c, p] of CASES) {
      const img = randomValues(rng, b * h * w * c, -4, 4, dtype);
      const shape = [b, (h / p) * (w / p), p * p * c];
      using images = tensorOf(device, dtype, [b, h, w, c], img);
      using patches = device.alloc(dtype, shape);
      patchify(device, images, patches, { patch: p });
      expect(Array.from(patches.toFloat32())).toEqual(Array.from(patchifyRef(img, b, h, w, c, p)));
      // The backward maps a patch gradient g to the image gradient: by linearity its element i is
      // the derivative of g . patchify(x) in x_i; central differences of the float64 forward.
      const g = randomValues(rng, img.length, -1, 1, dtype);
      using gp = tensorOf(device, dtype, shape, g);
      using gi = device.alloc(dtype, [b, h, w, c]);
      unpatchify(device, gp, gi, { patch: p });
      const got = gi.toFloat32();
      const idx = Array.from({ length: 8 }, () => randInt(rng, 0, img.length - 1));
      const fd = centralDifferences((v) => dot(g, patchifyRef(v, b, h, w, c, p)), Float64Array.from(img), idx, 0.5);
      expect(within(idx.map((i) => got[i]!), fd, (k) => 1e-12 * (1 + Math.abs(fd[k]!)))).toBeNull();
      // And unpatchify(patchify(x)) is x, bit for bit.
      using back = device.alloc(dtype, [b, h, w, c]);
      unpatchify(device, patches, back, { patch: p });
      expect(Buffer.from(back.download().buffer)).toEqual(Buffer.from(images.download().buffer));
    }
  });

  test('typed errors', () => {
    using images = device.alloc('f32', [1, 6, 6, 3]);
    using patches = device.alloc('f32', [1, 4, 27]);
    using half = device.alloc('bf16', [1, 4, 27]);
    expect(codeOf(() => patchify(device, images, patches, { patch: 4 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => patchify(device, images, patches, { patch: 2 }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => patchify(device, images, half, { patch: 3 }))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => patchify(device, images, patches, {} as never))).toBe('ERR_INVALID_ARGUMENT');
    patchify(device, images, patches, { patch: 3 });
    const spec = { dtype: 'f32' as const, b: 1, h: 6, w: 6, c: 3, p: 3, images: images.buffer, patches: patches.buffer };
    expect(codeOf(() => device.native.launch('unpatchify', { ...spec, p: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('unpatchify', { ...spec, b: 2 }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => device.native.launch('unpatchify', { ...spec, patches: images.buffer }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('position embedding', () => {
  const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 17, 5], [2, 9, 600], [6, 3, 1030]];

  test.each(DTYPES.flatMap((x) => DTYPES.map((p) => [x, p] as const)))('x %s, pos %s: add and backward against float64, with central differences', (xType, pType) => {
    const rng = mulberry32(61);
    for (const [b, t, d] of SHAPES) {
      const x = randomValues(rng, b * t * d, -3, 3, xType);
      const pos = randomValues(rng, t * d, -1, 1, pType);
      using xt = tensorOf(device, xType, [b, t, d], x);
      using pt = tensorOf(device, pType, [t, d], pos);
      addPositionEmbedding(device, xt, pt);
      const ref = Float64Array.from(x, (v, i) => v + pos[i % (t * d)]!);
      const relX = xType === 'f32' ? u : 2 ** -8;
      expect(within(xt.toFloat32(), ref, (i) => relX * Math.abs(ref[i]!))).toBeNull();

      // Backward with dx = w: dpos = sum over b of w, the gradient of w . (x + pos) in pos.
      const w = randomValues(rng, b * t * d, -2, 2, xType);
      using dx = tensorOf(device, xType, [b, t, d], w);
      using dpos = device.alloc(pType, [t, d]);
      positionEmbeddingBackward(device, dx, dpos);
      const got = dpos.toFloat32();
      const sums = new Float64Array(t * d), abs = new Float64Array(t * d);
      w.forEach((v, i) => {
        const k = i % (t * d);
        sums[k] = sums[k]! + v;
        abs[k] = abs[k]! + Math.abs(v);
      });
      const relP = pType === 'f32' ? 0 : 2 ** -8;
      const bound = (i: number) => (b + 1) * u * abs[i]! + relP * Math.abs(sums[i]!);
      expect(within(got, sums, bound)).toBeNull();
      const p64 = Float64Array.from(pos);
      const idx = Array.from({ length: 6 }, () => randInt(rng, 0, t * d - 1));
      const fd = centralDifferences((v) => dot(w, Float64Array.from(x, (xv, i) => xv + v[i % (t * d)]!)), p64, idx, 0.25);
      expect(within(idx.map((i) => got[i]!), fd, (k) => bound(idx[k]!) + 1e-9 * (1 + abs[idx[k]!]!))).toBeNull();
    }
  });

  // dxRowStride: rows (b, t) of dx are a column window of a wider matrix (sum_to's bias gradient has
  // t = 1 and reads F columns of the [B*T, 3D + F] projection gradient). The columns between the
  // windows hold random values that must not reach the sums.
  test.each(DTYPES.flatMap((x) => DTYPES.map((p) => [x, p] as const)))('backward with dxRowStride, dx %s, dpos %s, against float64', (xType, pType) => {
    const rng = mulberry32(67);
    const CASES: [number, number, number, number][] = [[1, 1, 1, 3], [3, 17, 5, 8], [2, 9, 600, 1031], [6, 3, 1030, 1030], [1030, 1, 7, 29], [301, 1, 129, 400], [0, 2, 3, 5]];
    for (const [b, t, d, stride] of CASES) {
      const n = b * t === 0 ? 4 : (b * t - 1) * stride + d + 4;
      const w = randomValues(rng, n, -2, 2, xType);
      using dx = tensorOf(device, xType, [n], w);
      using dpos = tensorOf(device, pType, [t, d], randomValues(rng, t * d, -9, 9, pType));
      device.native.launch('pos_embed_bwd', { dtype: xType, posDtype: pType, b, t, d, dx: dx.buffer, dpos: dpos.buffer, dxRowStride: stride });
      const sums = new Float64Array(t * d), abs = new Float64Array(t * d);
      for (let i = 0; i < b; i++) {
        for (let k = 0; k < t; k++) {
          for (let j = 0; j < d; j++) {
            const v = w[(i * t + k) * stride + j]!;
            sums[k * d + j] = sums[k * d + j]! + v;
            abs[k * d + j] = abs[k * d + j]! + Math.abs(v);
          }
        }
      }
      const relP = pType === 'f32' ? 0 : 2 ** -8;
      expect(within(dpos.toFloat32(), sums, (i) => (b + 1) * u * abs[i]! + relP * Math.abs(sums[i]!))).toBeNull();
      // The same window copied out dense gives the same bits.
      if (b * t > 0) {
        const dense = Float64Array.from({ length: b * t * d }, (_, i) => w[Math.floor(i / d) * stride + (i % d)]!);
        using dd = tensorOf(device, xType, [b, t, d], dense);
        using dp = device.alloc(pType, [t, d]);
        positionEmbeddingBackward(device, dd, dp);
        expect(dp.download()).toEqual(dpos.download());
      }
    }
  });

  // The summation order is part of the contract (kernels.h): blocks of 256 rows of b, each in
  // groups of four ((r0 + r1) + (r2 + r3)) then one by one, the block sums added in order. An f32
  // emulation of that order must give the kernel's bits exactly, across block boundaries (so the
  // GPU's parallel blocks and the CPU agree bit for bit).
  test('backward sums in the blocked order of kernels.h, bit for bit (f32 emulation)', () => {
    const rng = mulberry32(71);
    const f = Math.fround;
    for (const b of [1, 255, 256, 257, 515, 1029]) {
      const d = 5;
      const w = randomValues(rng, b * d, -2, 2, 'f32');
      using dx = tensorOf(device, 'f32', [b, 1, d], w);
      using dpos = device.alloc('f32', [1, d]);
      positionEmbeddingBackward(device, dx, dpos);
      const want = new Float32Array(d);
      for (let j = 0; j < d; j++) {
        let acc = 0;
        for (let b0 = 0; b0 < b; b0 += 256) {
          const b1 = Math.min(b, b0 + 256);
          let part = 0;
          let i = b0;
          const at = (r: number) => w[r * d + j]!;
          for (; i + 4 <= b1; i += 4) part = f(part + f(f(at(i) + at(i + 1)) + f(at(i + 2) + at(i + 3))));
          for (; i < b1; i++) part = f(part + at(i));
          acc = b0 === 0 ? part : f(acc + part);
        }
        want[j] = acc;
      }
      expect({ b, got: Array.from(dpos.download() as Float32Array) }).toEqual({ b, got: Array.from(want) });
    }
  });

  test('typed errors', () => {
    using x = device.alloc('f32', [2, 3, 4]);
    using pos = device.alloc('f32', [3, 5]);
    using ints = device.alloc('i32', [3, 4]);
    expect(codeOf(() => addPositionEmbedding(device, x, pos))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => addPositionEmbedding(device, x, ints))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => positionEmbeddingBackward(device, pos, pos))).toBe('ERR_SHAPE_MISMATCH');
    const spec = { dtype: 'f32' as const, posDtype: 'f32' as const, b: 2, t: 3, d: 4, dx: x.buffer, dpos: x.buffer };
    expect(codeOf(() => device.native.launch('pos_embed_bwd', spec))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('pos_embed_bwd', { ...spec, dpos: pos.buffer, t: 4 }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => launchUntyped(device, 'pos_embed_add', { ...spec, x: x.buffer, pos: ints.buffer, posDtype: 'i32' }))).toBe('ERR_DTYPE_MISMATCH');
    // dxRowStride: 0 or >= d; dx must hold (b * t - 1) * dxRowStride + d elements.
    using dp = device.alloc('f32', [3, 4]);
    const bwd = { ...spec, dpos: dp.buffer };
    device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: 0 });
    device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: 4 });
    expect(thrownBy(() => device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: 3 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: '0 or >= 4', received: '3' });
    expect(codeOf(() => device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: -4 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: 4.5 }))).toBe('ERR_INVALID_ARGUMENT');
    // 6 rows 5 apart: 5 * 5 + 4 = 29 elements, 116 bytes > 96.
    expect(thrownBy(() => device.native.launch('pos_embed_bwd', { ...bwd, dxRowStride: 5 }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 116 bytes (29 f32)', received: '96 bytes' });
    expect(thrownBy(() => device.native.launch('pos_embed_bwd', { ...bwd, b: 2 ** 30, dxRowStride: 2 ** 40 }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: 'a footprint below 2^63 bytes' });
    expect(codeOf(() => device.native.launch('mean_pool', { dtype: 'f32', b: 2, t: 0, d: 4, x: x.buffer, y: pos.buffer }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => meanPool(device, x, pos))).toBe('ERR_SHAPE_MISMATCH');
  });
});

describe('thread-count independence', () => {
  test('mean_pool, pos_embed_bwd (dense and strided) and patchify are bitwise identical with 1, 3 and the default threads', () => {
    const rng = mulberry32(71);
    const [b, t, d] = [7, 65, 1030];
    const x = Float32Array.from(randomValues(rng, b * t * d, -2, 2, 'f32'));
    const jobs: ChildJob[] = [
      { kernel: 'mean_pool', spec: { dtype: 'f32', b, t, d }, buffers: { x, y: new Float32Array(b * d) }, outputs: ['y'] },
      { kernel: 'pos_embed_bwd', spec: { dtype: 'f32', posDtype: 'f32', b, t, d }, buffers: { dx: x, dpos: new Float32Array(t * d) }, outputs: ['dpos'] },
      // A column window (rows 1030 apart, 1000 wide), as sum_to over a wider matrix reads it.
      { kernel: 'pos_embed_bwd', spec: { dtype: 'f32', posDtype: 'f32', b, t, d: 1000, dxRowStride: d }, buffers: { dx: x, dpos: new Float32Array(t * 1000) }, outputs: ['dpos'] },
      { kernel: 'patchify', spec: { dtype: 'f32', b: 2, h: 64, w: 80, c: 3, p: 16 }, buffers: { images: x.subarray(0, 2 * 64 * 80 * 3), patches: new Float32Array(2 * 64 * 80 * 3) }, outputs: ['patches'] },
    ];
    const one = runInChild(jobs, { VIT22B_NUM_THREADS: '1' });
    expect(one.error).toBeUndefined();
    expect(runInChild(jobs, { VIT22B_NUM_THREADS: '3' })).toEqual(one);
    expect(runInChild(jobs, {})).toEqual(one);
  });
});
