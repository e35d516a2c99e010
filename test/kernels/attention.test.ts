// Fused attention (native/cpu/attention*.cc) through attentionForward / attentionBackward and the
// raw launchers: what the kernel table (test/cases/attention_fwd.ts, attention_bwd.ts) cannot say.
// The float64 comparisons of every shape (single keys and queries, the MAP head's probes, sizes past
// a 64-block, odd and largest head dims, large logits), f32 and bf16, and the backward against finite
// differences, are cases there (this file's bound, below, reduced to one { abs, rel } per output).
// Here: the wrappers building the right specs (the default scale; forward then backward on the
// kernel's own O and lse, the training path), views into the fused projection equal to the dense
// run bit for bit, typed errors, and, in child processes, thread-count independence and every ISA.
// Tolerances, per element, with `scale` the reference's sum of absolute terms (oScale, dqScale...):
//   f32:  |err| <= 2e-5 * scale + 1e-6   (f32 dot products over Dh <= 256 and a ~1e-7 exp)
//   bf16: |err| <= 2^-8 * (|ref| + scale) + 1e-6  (one rounding of the output to bf16; the inputs
//         are bf16 values, exact in f32; in the backward the bf16-rounded O feeds D)
//   lse (f32 in both): |err| <= 2e-5 * (1 + |lse|)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { attentionBackward, attentionForward, fusedHeads, openDevice, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import type { NativeBuffer } from '../../lib/runtime/native-types';
import { attentionBackwardRef, attentionForwardRef, type AttnDims } from '../helpers/attention-reference';
import { decodeBf16, firstViolation } from '../helpers/float-reference';
import { launchUntyped } from '../helpers/launch-untyped';
import { mulberry32, randomBf16BitsArray, randomF32Array, type Rng } from '../helpers/prng';

type Storage = 'f32' | 'bf16';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

/** Nonzero random values with magnitudes in [2^minExp, 2^(maxExp+1)), stored as `dtype`. */
function randomStorage(rng: Rng, dtype: Storage, n: number, minExp = -3, maxExp = 0): Float32Array | Uint16Array {
  return dtype === 'f32' ? randomF32Array(rng, n, minExp, maxExp) : randomBf16BitsArray(rng, n, minExp, maxExp);
}

function decode(x: Float32Array | Uint16Array): Float64Array {
  return x instanceof Float32Array ? Float64Array.from(x) : Float64Array.from(x, (b) => decodeBf16(b));
}

interface Inputs {
  dims: AttnDims;
  dtype: Storage;
  scale: number;
  raw: { q: Float32Array | Uint16Array; k: Float32Array | Uint16Array; v: Float32Array | Uint16Array; dO: Float32Array | Uint16Array };
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  dO: Float64Array;
}

function makeInputs(dims: AttnDims, dtype: Storage, seed: number, scale = 1 / Math.sqrt(dims.headDim), maxExp = 0): Inputs {
  const rng = mulberry32(seed);
  const nq = dims.batch * dims.tq * dims.heads * dims.headDim;
  const nk = dims.batch * dims.tk * dims.heads * dims.headDim;
  const raw = {
    q: randomStorage(rng, dtype, nq, -3, maxExp),
    k: randomStorage(rng, dtype, nk, -3, maxExp),
    v: randomStorage(rng, dtype, nk),
    dO: randomStorage(rng, dtype, nq),
  };
  return { dims, dtype, scale, raw, q: decode(raw.q), k: decode(raw.k), v: decode(raw.v), dO: decode(raw.dO) };
}

const qShape = (d: AttnDims): number[] => [d.batch, d.tq, d.heads, d.headDim];
const kShape = (d: AttnDims): number[] => [d.batch, d.tk, d.heads, d.headDim];

function check(dtype: Storage, got: Float32Array | Uint16Array, ref: Float64Array, scale: Float64Array, what: string): void {
  const g = decode(got);
  const bound = dtype === 'f32' ? { rel: 2e-5, abs: 1e-6 } : { rel: 2 ** -8, abs: 1e-6 };
  // bf16: the output rounding is relative to |ref|, so fold |ref| into the scale.
  const s = dtype === 'f32' ? scale : Float64Array.from(scale, (x, i) => x + Math.abs(ref[i]!));
  const v = firstViolation(g, ref, s, bound.rel, bound.abs);
  if (v !== null) throw new Error(`${what}: ${v}`);
}

function checkLse(got: Float32Array, ref: Float64Array, what: string): void {
  const v = firstViolation(got, ref, Float64Array.from(ref, (x) => 1 + Math.abs(x)), 2e-5, 0);
  if (v !== null) throw new Error(`${what} lse: ${v}`);
}

function runForward(x: Inputs): { o: Float32Array | Uint16Array; lse: Float32Array } {
  const d = x.dims;
  const q = device.tensor(x.dtype, qShape(d), x.raw.q), k = device.tensor(x.dtype, kShape(d), x.raw.k);
  const v = device.tensor(x.dtype, kShape(d), x.raw.v);
  const o = device.alloc(x.dtype, qShape(d)), lse = device.alloc('f32', [d.batch, d.heads, d.tq]);
  try {
    attentionForward(device, { q, k, v, o, lse }, { scale: x.scale });
    return { o: o.download() as Float32Array | Uint16Array, lse: lse.download() as Float32Array };
  } finally {
    for (const t of [q, k, v, o, lse]) t.dispose();
  }
}

/** The backward from the given O and lse (as the forward stored them). */
function runBackward(x: Inputs, o: Float32Array | Uint16Array, lse: Float32Array): { dQ: Float32Array | Uint16Array; dK: Float32Array | Uint16Array; dV: Float32Array | Uint16Array } {
  const d = x.dims;
  const t = {
    q: device.tensor(x.dtype, qShape(d), x.raw.q), k: device.tensor(x.dtype, kShape(d), x.raw.k),
    v: device.tensor(x.dtype, kShape(d), x.raw.v), dO: device.tensor(x.dtype, qShape(d), x.raw.dO),
    o: device.tensor(x.dtype, qShape(d), o), lse: device.tensor('f32', [d.batch, d.heads, d.tq], lse),
    dQ: device.alloc(x.dtype, qShape(d)), dK: device.alloc(x.dtype, kShape(d)), dV: device.alloc(x.dtype, kShape(d)),
  };
  try {
    attentionBackward(device, t, { scale: x.scale });
    return { dQ: t.dQ.download() as Float32Array, dK: t.dK.download() as Float32Array, dV: t.dV.download() as Float32Array };
  } finally {
    for (const v of Object.values(t)) v.dispose();
  }
}

const dimsOf = ([batch, heads, tq, tk, headDim]: [number, number, number, number, number]): AttnDims => ({ batch, heads, tq, tk, headDim });

describe('attentionForward', () => {
  test('the default scale is 1 / sqrt(headDim)', () => {
    const x = makeInputs(dimsOf([1, 1, 5, 9, 36]), 'f32', 8);
    const d = x.dims;
    const q = device.tensor('f32', qShape(d), x.raw.q), k = device.tensor('f32', kShape(d), x.raw.k), v = device.tensor('f32', kShape(d), x.raw.v);
    const o = device.alloc('f32', qShape(d)), lse = device.alloc('f32', [1, 1, 5]);
    attentionForward(device, { q, k, v, o, lse });
    const ref = attentionForwardRef(d, x.q, x.k, x.v, 1 / 6);
    check('f32', o.download() as Float32Array, ref.o, ref.oScale, 'default scale');
    for (const t of [q, k, v, o, lse]) t.dispose();
  });
});

describe('attentionBackward', () => {
  test('forward then backward on the kernel\'s own O and lse (the training path), f32 and bf16', () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      const x = makeInputs(dimsOf([2, 3, 67, 80, 64]), dtype, 9);
      const fwd = runForward(x);
      const ref = attentionBackwardRef(x.dims, x.q, x.k, x.v, x.dO, x.scale);
      const got = runBackward(x, fwd.o, fwd.lse);
      check(dtype, got.dQ, ref.dq, ref.dqScale, `${dtype} dQ`);
      check(dtype, got.dK, ref.dk, ref.dkScale, `${dtype} dK`);
      check(dtype, got.dV, ref.dv, ref.dvScale, `${dtype} dV`);
    }
  });
});

describe('views into the fused [B, T, 3D + F] projection', () => {
  test('Q, K, V read from one tensor and dQ, dK, dV written into one gradient tensor equal the dense run', () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      const B = 2, T = 19, H = 3, Dh = 32, D = H * Dh, F = 40, W = 3 * D + F;
      const rng = mulberry32(77);
      const fusedRaw = randomStorage(rng, dtype, B * T * W);
      const dORaw = randomStorage(rng, dtype, B * T * D);
      const fused = device.tensor(dtype, [B, T, W], fusedRaw);
      const q = fusedHeads(fused, 0, H, Dh), k = fusedHeads(fused, D, H, Dh), v = fusedHeads(fused, 2 * D, H, Dh);
      const o = device.alloc(dtype, [B, T, H, Dh]), lse = device.alloc('f32', [B, H, T]);
      const dO = device.tensor(dtype, [B, T, H, Dh], dORaw);
      attentionForward(device, { q, k, v, o, lse });
      const grad = device.tensor(dtype, [B, T, W], dtype === 'f32' ? new Float32Array(B * T * W).fill(12345) : new Uint16Array(B * T * W).fill(0x4640));
      attentionBackward(device, { q, k, v, o, dO, lse, dQ: fusedHeads(grad, 0, H, Dh), dK: fusedHeads(grad, D, H, Dh), dV: fusedHeads(grad, 2 * D, H, Dh) });

      // The dense run on copies of the same columns.
      const cut = (col: number): Float32Array | Uint16Array => {
        const out = dtype === 'f32' ? new Float32Array(B * T * D) : new Uint16Array(B * T * D);
        for (let r = 0; r < B * T; r++) for (let c = 0; c < D; c++) out[r * D + c] = fusedRaw[r * W + col + c]!;
        return out;
      };
      const dims = { batch: B, heads: H, tq: T, tk: T, headDim: Dh };
      const x: Inputs = { dims, dtype, scale: 1 / Math.sqrt(Dh), raw: { q: cut(0), k: cut(D), v: cut(2 * D), dO: dORaw }, q: new Float64Array(), k: new Float64Array(), v: new Float64Array(), dO: new Float64Array() };
      const dense = runForward(x);
      expect(o.download()).toEqual(dense.o);
      expect(lse.download()).toEqual(dense.lse);
      const denseGrad = runBackward(x, dense.o, dense.lse);
      const g = grad.download();
      for (let r = 0; r < B * T; r++) {
        for (let c = 0; c < D; c++) {
          expect(g[r * W + c]).toBe(denseGrad.dQ[r * D + c]);
          expect(g[r * W + D + c]).toBe(denseGrad.dK[r * D + c]);
          expect(g[r * W + 2 * D + c]).toBe(denseGrad.dV[r * D + c]);
        }
        // The MLP columns of the gradient are not attention's: left exactly as they were.
        for (let c = 3 * D; c < W; c++) expect(g[r * W + c]).toBe(dtype === 'f32' ? 12345 : 0x4640);
      }
      for (const t of [fused, o, lse, dO, grad]) t.dispose();
    }
  });
});

describe('typed errors', () => {
  function errorOf(fn: () => void): Vit22bError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(Vit22bError);
      return e as Vit22bError;
    }
    throw new Error('expected a Vit22bError, but the call returned normally');
  }

  test('from the TypeScript wrappers: shapes, dtypes, scale, head dim, no keys', () => {
    const mk = (dtype: 'f32' | 'bf16', shape: number[]): DeviceTensor => device.alloc(dtype, shape);
    const q = mk('f32', [2, 5, 3, 16]), k = mk('f32', [2, 7, 3, 16]), v = mk('f32', [2, 7, 3, 16]);
    const o = mk('f32', [2, 5, 3, 16]), lse = mk('f32', [2, 3, 5]);
    const kb = mk('bf16', [2, 7, 3, 16]), kWrong = mk('f32', [2, 7, 4, 16]), lseB = mk('bf16', [2, 3, 5]);
    const q300 = mk('f32', [1, 1, 1, 300]), k300 = mk('f32', [1, 1, 1, 300]);
    const k0 = mk('f32', [2, 0, 3, 16]), lse1 = mk('f32', [1, 1, 1]), narrow = mk('f32', [2, 3, 10]);
    expect(errorOf(() => attentionForward(device, { q, k: kb, v, o, lse }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', expected: 'f32', received: 'bf16' });
    expect(errorOf(() => attentionForward(device, { q, k: kWrong, v, o, lse }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[2, 7, 3, 16]', received: '[2, 7, 4, 16]' });
    expect(errorOf(() => attentionForward(device, { q, k, v, o, lse: q }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[2, 3, 5]' });
    expect(errorOf(() => attentionForward(device, { q, k, v, o, lse: lseB }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', received: 'bf16' });
    expect(errorOf(() => attentionForward(device, { q, k, v, o, lse }, { scale: NaN }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(errorOf(() => attentionForward(device, { q, k, v, o, lse }, { scale: -1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(errorOf(() => attentionForward(device, { q: q300, k: k300, v: k300, o: q300, lse: lse1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: '300' });
    expect(errorOf(() => attentionForward(device, { q, k: k0, v: k0, o, lse }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'tk >= 1' });
    expect(errorOf(() => attentionForward(device, { q, k: {} as DeviceTensor, v, o, lse }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(errorOf(() => attentionForward(device, { q: { tensor: q, shape: [2, 5, 3, 16], offset: 1, batchStride: 240, tokenStride: 48, headStride: 16 }, k, v, o, lse }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '<= 480 elements', received: '481 elements' });
    expect(errorOf(() => fusedHeads(narrow, 4, 2, 4))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    q.dispose();
    expect(errorOf(() => attentionForward(device, { q, k, v, o, lse }))).toMatchObject({ code: 'ERR_DISPOSED' });
    for (const t of [k, v, o, lse, kb, kWrong, lseB, q300, k300, k0, lse1, narrow]) t.dispose();
  });

  describe('from the raw launchers (the last line of defence)', () => {
    const B = 2, T = 5, H = 3, Dh = 16, N = B * T * H * Dh;
    const views = (names: string[]): Record<string, { buffer: NativeBuffer; offset: number; batchStride: number; tokenStride: number; headStride: number }> =>
      Object.fromEntries(names.map((n) => [n, { buffer: device.native.alloc(N * 4), offset: 0, batchStride: T * H * Dh, tokenStride: H * Dh, headStride: Dh }]));
    function launch(kernel: 'attention_fwd' | 'attention_bwd', patch: (s: Record<string, any>) => object): Vit22bError | undefined {
      const names = kernel === 'attention_fwd' ? ['q', 'k', 'v', 'o'] : ['q', 'k', 'v', 'o', 'dO', 'dQ', 'dK', 'dV'];
      const s: Record<string, any> = { dtype: 'f32', batch: B, heads: H, tq: T, tk: T, headDim: Dh, scale: 0.25, ...views(names), lse: device.native.alloc(B * H * T * 4) };
      for (const n of names) s[n].buffer.upload(new Float32Array(N).fill(0.5));
      let err: Vit22bError | undefined;
      try {
        launchUntyped(device, kernel, { ...s, ...patch(s) });
      } catch (e) {
        expect(e).toBeInstanceOf(Vit22bError);
        err = e as Vit22bError;
      } finally {
        for (const n of names) s[n].buffer.dispose();
        s.lse.dispose();
      }
      return err;
    }

    test('the baseline specs run', () => {
      expect(launch('attention_fwd', () => ({}))).toBeUndefined();
      expect(launch('attention_bwd', () => ({}))).toBeUndefined();
    });

    test('sizes: buffers too small, overflowing footprints, headDim and tk out of range', () => {
      expect(launch('attention_fwd', (s) => ({ k: { ...s.k, offset: 1 } }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: `>= ${(N + 1) * 4} bytes`, received: `${N * 4} bytes` });
      expect(launch('attention_fwd', () => ({ tq: 6 }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
      expect(launch('attention_bwd', (s) => ({ heads: 2048, q: { ...s.q, headStride: 2 ** 53 } }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: 'a footprint below 2^63 bytes' });
      expect(launch('attention_fwd', () => ({ headDim: 0 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: '0' });
      expect(launch('attention_fwd', () => ({ headDim: 257 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: '257' });
      expect(launch('attention_bwd', () => ({ tk: 0 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'tk >= 1' });
      expect(launch('attention_fwd', () => ({ batch: -1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    });

    test('dtypes, scalars and malformed views', () => {
      expect(launch('attention_fwd', () => ({ dtype: 'i32' }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', expected: 'f32 or bf16', received: 'i32' });
      expect(launch('attention_fwd', () => ({ dtype: 'f64' }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(launch('attention_fwd', () => ({ scale: Infinity }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(launch('attention_bwd', () => ({ scale: 0 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(launch('attention_fwd', () => ({ q: 3 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'object', received: 'number' });
      expect(launch('attention_fwd', (s) => ({ q: { ...s.q, tokenStride: -1 } }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(launch('attention_fwd', (s) => ({ q: { ...s.q, buffer: {} } }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    });

    test('aliasing: outputs on inputs, self-overlapping outputs, overlapping gradient views', () => {
      expect(launch('attention_fwd', (s) => ({ o: s.q }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'the same buffer' });
      expect(launch('attention_fwd', (s) => ({ lse: s.k.buffer }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(launch('attention_fwd', (s) => ({ o: { ...s.o, headStride: 8 } }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'headStride >= 16', received: '8' });
      expect(launch('attention_bwd', (s) => ({ dK: { ...s.dK, tokenStride: 40 } }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'tokenStride >= 48' });
      expect(launch('attention_bwd', (s) => ({ dQ: { ...s.dQ, batchStride: 200 } }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'batchStride >= 240' });
      expect(launch('attention_bwd', (s) => ({ dK: s.dQ }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'disjoint column ranges of rows with equal strides' });
      expect(launch('attention_bwd', (s) => ({ dQ: s.dO }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'the same buffer' });
    });

    test('a buffer of another device, a disposed buffer', () => {
      const other = openDevice({ device: 'cpu' });
      const foreign = other.native.alloc(N * 4);
      expect(launch('attention_fwd', (s) => ({ v: { ...s.v, buffer: foreign } }))).toMatchObject({ code: 'ERR_DEVICE_MISMATCH' });
      foreign.dispose();
      other.dispose();
      expect(launch('attention_fwd', (s) => ({ v: { ...s.v, buffer: foreign } }))).toMatchObject({ code: 'ERR_DISPOSED' });
    });
  });
});

describe('in a child process', () => {
  const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');
  const child = path.join(__dirname, 'attention-child.cjs');
  const b64 = (x: Float32Array | Uint16Array): string => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
  type Outputs = { o: string; lse: string; dQ: string; dK: string; dV: string }[];

  function runChild(cases: Inputs[], env: Record<string, string>): Outputs {
    const jobs = cases.map((x) => ({ dims: x.dims, dtype: x.dtype, scale: x.scale, q: b64(x.raw.q), k: b64(x.raw.k), v: b64(x.raw.v), dO: b64(x.raw.dO) }));
    const r = spawnSync(process.execPath, [child], { input: JSON.stringify(jobs), encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { outputs?: Outputs; error?: { code: string; message: string } };
    if (!out.outputs) throw new Error(`child error: ${JSON.stringify(out.error)}`);
    return out.outputs;
  }

  function fromB64(dtype: 'f32' | 'bf16', s: string): Float32Array | Uint16Array {
    const bytes = Buffer.from(s, 'base64');
    const copy = new Uint8Array(bytes).buffer;
    return dtype === 'f32' ? new Float32Array(copy) : new Uint16Array(copy);
  }

  function checkAll(x: Inputs, out: Outputs[number]): void {
    const fwd = attentionForwardRef(x.dims, x.q, x.k, x.v, x.scale);
    const ref = attentionBackwardRef(x.dims, x.q, x.k, x.v, x.dO, x.scale);
    check(x.dtype, fromB64(x.dtype, out.o), fwd.o, fwd.oScale, 'o');
    checkLse(fromB64('f32', out.lse) as Float32Array, fwd.lse, 'child');
    check(x.dtype, fromB64(x.dtype, out.dQ), ref.dq, ref.dqScale, 'dQ');
    check(x.dtype, fromB64(x.dtype, out.dK), ref.dk, ref.dkScale, 'dK');
    check(x.dtype, fromB64(x.dtype, out.dV), ref.dv, ref.dvScale, 'dV');
  }

  // B * H = 3 runs the one-pass backward with 1 thread and the two-pass one with 2 or 3; B = H = 1
  // is always two-pass; B * H = 8 is one-pass up to 4 threads. All must agree bit for bit.
  const CASES = (): Inputs[] => [
    makeInputs(dimsOf([1, 3, 150, 140, 64]), 'f32', 31),
    makeInputs(dimsOf([1, 1, 130, 200, 48]), 'bf16', 32),
    makeInputs(dimsOf([4, 2, 3, 90, 128]), 'bf16', 33),
  ];

  beforeAll(() => {
    if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npx tsup` before these tests');
  });

  test('results are bitwise identical with 1, 2, 3 and the default number of threads, and correct', () => {
    const cases = CASES();
    const reference = runChild(cases, {});
    expect(reference).toHaveLength(cases.length);
    for (const threads of ['1', '2', '3']) expect(runChild(cases, { VIT22B_NUM_THREADS: threads })).toEqual(reference);
    cases.forEach((x, i) => checkAll(x, reference[i]!));
  });

  test.each(['scalar', 'avx2', 'avx512'])('every tile implementation the CPU has is correct (VIT22B_CPU_ISA=%s)', (isa) => {
    const cases = CASES();
    runChild(cases, { VIT22B_CPU_ISA: isa }).forEach((out, i) => checkAll(cases[i]!, out));
  });
});
