// Mean pooling, patchify / unpatchify and the position embedding (native/cpu/mean_pool.cc,
// patchify.cc, pos_embed.cc): what the kernel table (test/cases/mean_pool*.ts, patchify.ts,
// unpatchify.ts, pos_embed_add.ts, pos_embed_bwd.ts) cannot say. The float64 comparisons of every
// shape and storage pair, dxRowStride windows, the blocked summation order of pos_embed_bwd bit for
// bit, and each backward against finite differences of its forward, are cases there. Here: one
// correctness check of each wrapper, the mean_pool forward sweep (the table's tolerance for it,
// (T + 2) 2^-23 + 2^-23 |ref|, is looser than this file's), typed errors and thread-count
// independence.
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
import { randomValues, runInChild, tensorOf, type ChildJob, type Storage } from '../helpers/kernel-runs';
import { mulberry32 } from '../helpers/prng';

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

  test('meanPoolBackward: dx = dy / T, f32', () => {
    const rng = mulberry32(42);
    const [b, t, d] = [3, 17, 5];
    const w = randomValues(rng, b * d, -2, 2, 'f32');
    using dy = tensorOf(device, 'f32', [b, d], w);
    using dx = device.alloc('f32', [b, t, d]);
    meanPoolBackward(device, dy, dx);
    const ref = Float64Array.from({ length: b * t * d }, (_, i) => w[Math.floor(i / (t * d)) * d + (i % d)]! / t);
    expect(within(dx.toFloat32(), ref, (i) => u * Math.abs(ref[i]!))).toBeNull();
  });
});

describe('patchify', () => {
  test('patchify follows the documented index formula; unpatchify inverts it bit for bit (bf16)', () => {
    const rng = mulberry32(51);
    const [b, h, w, c, p] = [2, 6, 9, 3, 3];
    const img = randomValues(rng, b * h * w * c, -4, 4, 'bf16');
    using images = tensorOf(device, 'bf16', [b, h, w, c], img);
    using patches = device.alloc('bf16', [b, (h / p) * (w / p), p * p * c]);
    patchify(device, images, patches, { patch: p });
    expect(Array.from(patches.toFloat32())).toEqual(Array.from(patchifyRef(img, b, h, w, c, p)));
    using back = device.alloc('bf16', [b, h, w, c]);
    unpatchify(device, patches, back, { patch: p });
    expect(Buffer.from(back.download().buffer)).toEqual(Buffer.from(images.download().buffer));
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
  test('addPositionEmbedding and positionEmbeddingBackward: x f32, pos bf16, against float64', () => {
    const rng = mulberry32(61);
    const [b, t, d] = [3, 17, 5];
    const x = randomValues(rng, b * t * d, -3, 3, 'f32');
    const pos = randomValues(rng, t * d, -1, 1, 'bf16');
    using xt = tensorOf(device, 'f32', [b, t, d], x);
    using pt = tensorOf(device, 'bf16', [t, d], pos);
    addPositionEmbedding(device, xt, pt);
    const ref = Float64Array.from(x, (v, i) => v + pos[i % (t * d)]!);
    expect(within(xt.toFloat32(), ref, (i) => u * Math.abs(ref[i]!))).toBeNull();
    // dpos = sum over b of dx, rounded once to bf16.
    const w = randomValues(rng, b * t * d, -2, 2, 'f32');
    using dx = tensorOf(device, 'f32', [b, t, d], w);
    using dpos = device.alloc('bf16', [t, d]);
    positionEmbeddingBackward(device, dx, dpos);
    const sums = new Float64Array(t * d), abs = new Float64Array(t * d);
    w.forEach((v, i) => {
      const k = i % (t * d);
      sums[k] = sums[k]! + v;
      abs[k] = abs[k]! + Math.abs(v);
    });
    expect(within(dpos.toFloat32(), sums, (i) => (b + 1) * u * abs[i]! + 2 ** -8 * Math.abs(sums[i]!))).toBeNull();
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
