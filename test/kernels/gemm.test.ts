// CPU GEMM (native/cpu/gemm*.cc): what the kernel table (test/kernels/table.test.ts with
// test/cases/gemm.ts) cannot say. The float64 comparisons of every transpose, size, storage
// combination, alpha / beta, bias epilogue, k = 0, beta = 0 with a poisoned C and strided batches
// are cases of test/cases/gemm.ts (gemm-cases.ts's bound, reduced to one { abs, rel } per case).
// Here: Device.gemm building the right spec from tensors (one correctness check, gemm-cases.ts's
// reference), typed errors from the wrapper and the native launcher, and, in child processes,
// thread-count independence and every micro-kernel ISA path.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { openDevice, toBf16, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import type { NativeBuffer, NativeGemmSpec } from '../../lib/runtime/native-types';
import { checkResult, denseCase, makeData, type GemmCase, type GemmData } from './gemm-cases';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function specOf(c: GemmCase): Omit<NativeGemmSpec, 'a' | 'b' | 'c' | 'bias'> {
  const { abType, cType, transA, transB, m, n, k, batch, alpha, beta, lda, ldb, ldc, strideA, strideB, strideC } = c;
  return { abType, cType, transA, transB, m, n, k, batch, alpha, beta, lda, ldb, ldc, strideA, strideB, strideC, ...(c.biasType ? { biasType: c.biasType } : {}) };
}

describe('Device.gemm on tensors', () => {
  function tensorOf(type: 'f32' | 'bf16', shape: number[], seed: number): DeviceTensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    let x = seed;
    for (let i = 0; i < size; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      v[i] = (x / 4294967296) * 1.8 - 0.9 || 0.5;
    }
    return device.tensor(type, shape, type === 'bf16' ? toBf16(v) : v);
  }

  // Reference for dense [batch?, rows, cols] tensors via the same checker as the raw cases.
  function check(a: DeviceTensor, b: DeviceTensor, c: DeviceTensor, opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; bias?: DeviceTensor }): void {
    const before = c.download();
    device.gemm(a, b, c, opts);
    const batch = c.shape.length === 3 ? c.shape[0]! : 1;
    const [m, n] = c.shape.slice(-2) as [number, number];
    const k = opts.transA ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
    const gc: GemmCase = {
      ...denseCase({ m, n, k, batch, transA: !!opts.transA, transB: !!opts.transB, abType: a.dtype as 'f32', cType: c.dtype as 'f32' }),
      alpha: opts.alpha ?? 1,
      beta: opts.beta ?? 0,
      bias: !!opts.bias,
      strideA: a.shape.length === 3 ? a.size / batch : 0,
      strideB: b.shape.length === 3 ? b.size / batch : 0,
    };
    const data: GemmData = {
      a: a.download() as Float32Array,
      b: b.download() as Float32Array,
      c: before as Float32Array,
      ...(opts.bias ? { bias: opts.bias.download() as Float32Array } : {}),
    };
    expect(checkResult(gc, data, c.download() as Float32Array)).toEqual([]);
  }

  test('2-D, batched 3-D, and a 2-D weight shared by a batch (x[B, T, D] @ W[D, N] + b)', () => {
    const a = tensorOf('f32', [20, 30], 1), b = tensorOf('f32', [30, 40], 2), c = tensorOf('f32', [20, 40], 3);
    check(a, b, c, { alpha: 0.5, beta: 2 });
    const x = tensorOf('bf16', [3, 17, 24], 4), w = tensorOf('bf16', [24, 33], 5), bias = tensorOf('bf16', [33], 6);
    const y = device.alloc('bf16', [3, 17, 33]);
    check(x, w, y, { bias });
    const biasF32 = tensorOf('f32', [33], 9); // bf16-mixed: an f32 master bias on a bf16 output
    check(x, w, y, { bias: biasF32, beta: 1 });
    biasF32.dispose();
    const q = tensorOf('f32', [2, 9, 16], 7), kk = tensorOf('f32', [2, 11, 16], 8), s = device.alloc('f32', [2, 9, 11]);
    check(q, kk, s, { transB: true, alpha: 0.25 }); // attention scores q @ k^T
    for (const t of [a, b, c, x, w, bias, y, q, kk, s]) t.dispose();
  });

  test('typed errors for dtypes, shapes and options', () => {
    const a = device.alloc('f32', [4, 5]), b = device.alloc('f32', [5, 6]), c = device.alloc('f32', [4, 6]);
    const bh = device.alloc('bf16', [5, 6]), ci = device.alloc('i32', [4, 6]), c3 = device.alloc('f32', [2, 4, 6]);
    const a3 = device.alloc('f32', [3, 4, 5]);
    const expectErr = (fn: () => void, code: string, expected?: string, received?: string): void => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Vit22bError);
      expect((err as Vit22bError).code).toBe(code);
      if (expected !== undefined) expect((err as Vit22bError).expected).toBe(expected);
      if (received !== undefined) expect((err as Vit22bError).received).toBe(received);
    };
    expectErr(() => device.gemm(a, bh, c), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => device.gemm(a, b, ci), 'ERR_DTYPE_MISMATCH', 'f32 | bf16', 'i32');
    expectErr(() => device.gemm(a, c, b), 'ERR_SHAPE_MISMATCH', '[5, 5]', '[4, 5]');
    expectErr(() => device.gemm(a, b, c, { transA: true }), 'ERR_SHAPE_MISMATCH', '[4, 4] (transA)', '[4, 5]');
    expectErr(() => device.gemm(a, b, c, { transB: true }), 'ERR_SHAPE_MISMATCH', '[6, 5] (transB)', '[5, 6]');
    expectErr(() => device.gemm(a3, b, c3), 'ERR_SHAPE_MISMATCH', '[2, rows, cols] or [rows, cols]', '[3, 4, 5]');
    expectErr(() => device.gemm(a, b, c, { bias: a }), 'ERR_SHAPE_MISMATCH', '[6]', '[4, 5]');
    expectErr(() => device.gemm(a, b, c, { bias: bh }), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    const ah = device.alloc('bf16', [4, 5]), ch = device.alloc('bf16', [4, 6]), bi = device.alloc('i32', [6]);
    expectErr(() => device.gemm(ah, bh, ch, { bias: bi }), 'ERR_DTYPE_MISMATCH', 'f32 | bf16', 'i32');
    for (const t of [ah, ch, bi]) t.dispose();
    expectErr(() => device.gemm(a, b, c, { alpha: NaN }), 'ERR_INVALID_ARGUMENT');
    expectErr(() => device.gemm(a, b, c, { transA: 1 as unknown as boolean }), 'ERR_INVALID_ARGUMENT', 'boolean', 'number');
    expectErr(() => device.gemm(a, b, {} as DeviceTensor), 'ERR_INVALID_ARGUMENT', 'DeviceTensor', 'object');
    for (const t of [a, b, c, bh, ci, c3, a3]) t.dispose();
    expectErr(() => device.gemm(a, b, c), 'ERR_DISPOSED');
  });
});

describe('DeviceHandle.gemm validation', () => {
  const base = (): NativeGemmSpec & { a: NativeBuffer; b: NativeBuffer; c: NativeBuffer } => ({
    abType: 'f32', cType: 'f32', transA: false, transB: false, m: 4, n: 6, k: 5, batch: 2, alpha: 1, beta: 0,
    a: device.native.alloc(2 * 4 * 5 * 4), lda: 5, strideA: 20,
    b: device.native.alloc(2 * 5 * 6 * 4), ldb: 6, strideB: 30,
    c: device.native.alloc(2 * 4 * 6 * 4), ldc: 6, strideC: 24,
  });
  function expectNative(patch: (s: ReturnType<typeof base>) => object, code: string, expected?: string, received?: string): void {
    const s = base();
    let err: unknown;
    try {
      device.native.launch('gemm', { ...s, ...patch(s) } as NativeGemmSpec);
    } catch (e) {
      err = e;
    } finally {
      s.a.dispose();
      s.b.dispose();
      s.c.dispose();
    }
    expect(err).toBeInstanceOf(Vit22bError);
    expect(err).toMatchObject({ code, ...(expected ? { expected } : {}), ...(received ? { received } : {}) });
  }

  test('the baseline spec is valid', () => {
    expectNative(() => ({ abType: 'f64' }), 'ERR_INVALID_ARGUMENT');
    const s = base();
    device.native.launch('gemm', s);
    for (const x of [s.a, s.b, s.c]) x.dispose();
  });

  test('ld smaller than the row length is ERR_INVALID_ARGUMENT', () => {
    expectNative(() => ({ lda: 4 }), 'ERR_INVALID_ARGUMENT', 'ldA >= 5', '4');
    expectNative(() => ({ transB: true, ldb: 4 }), 'ERR_INVALID_ARGUMENT', 'ldB >= 5', '4');
    expectNative(() => ({ ldc: 5 }), 'ERR_INVALID_ARGUMENT', 'ldC >= 6', '5');
  });

  test('buffers too small for m/n/k/ld/strides/batch are ERR_SHAPE_MISMATCH with the byte counts', () => {
    expectNative(() => ({ strideA: 21 }), 'ERR_SHAPE_MISMATCH', '>= 164 bytes (41 f32)', '160 bytes');
    expectNative(() => ({ batch: 3 }), 'ERR_SHAPE_MISMATCH', '>= 240 bytes (60 f32)', '160 bytes');
    expectNative(() => ({ ldb: 7 }), 'ERR_SHAPE_MISMATCH', '>= 256 bytes (64 f32)', '240 bytes');
    expectNative(() => ({ cType: 'bf16', strideC: 100 }), 'ERR_SHAPE_MISMATCH', '>= 248 bytes (124 bf16)', '192 bytes');
    const smallBias = device.native.alloc(8);
    expectNative(() => ({ bias: smallBias }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '8 bytes');
    smallBias.dispose();
  });

  test('a footprint that overflows 64 bits is ERR_SHAPE_MISMATCH', () => {
    expectNative(() => ({ batch: 2 ** 53, strideA: 2 ** 53 }), 'ERR_SHAPE_MISMATCH', 'a footprint below 2^63 bytes');
  });

  test('overlapping C batches and C aliasing an input are ERR_INVALID_ARGUMENT', () => {
    expectNative(() => ({ strideC: 10 }), 'ERR_INVALID_ARGUMENT', 'strideC >= 24', '10');
    expectNative((s) => ({ a: s.c, strideA: 24 }), 'ERR_INVALID_ARGUMENT', 'C distinct from A, B and bias');
  });

  test('a bad biasType is ERR_INVALID_ARGUMENT; the bias size follows biasType', () => {
    const bias = device.native.alloc(6 * 4);
    const half = device.native.alloc(6 * 2);
    try {
      expectNative(() => ({ bias, biasType: 'f16' }), 'ERR_INVALID_ARGUMENT', 'f32 or bf16', 'f16');
      expectNative(() => ({ bias, biasType: 'bf16' }), 'ERR_INVALID_ARGUMENT', 'f32', 'bf16'); // bf16 bias, f32 C
      expectNative(() => ({ bias, biasType: 3 }), 'ERR_INVALID_ARGUMENT', 'string', 'number');
      expectNative(() => ({ biasType: 'i32' }), 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'i32'); // checked without a bias too
      // bf16 C: an f32 bias needs 4 bytes per column, a bf16 one 2.
      expectNative(() => ({ cType: 'bf16', bias: half, biasType: 'f32' }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '12 bytes');
      expectNative(() => ({ cType: 'bf16', bias: half, biasType: 'f32', geluForm: 'tanh', geluBegin: 0, geluEnd: 6 }), 'ERR_SHAPE_MISMATCH', '>= 24 bytes (6 f32)', '12 bytes');
      // The same specs are valid with a big enough bias (and bf16 C: absent biasType = bf16).
      const s = base();
      try {
        device.native.launch('gemm', { ...s, cType: 'bf16', bias, biasType: 'f32' });
        device.native.launch('gemm', { ...s, cType: 'bf16', bias: half });
        device.native.launch('gemm', { ...s, cType: 'bf16', bias: half, biasType: 'bf16' });
        device.native.launch('gemm', { ...s, bias, biasType: 'f32' });
      } finally {
        for (const x of [s.a, s.b, s.c]) x.dispose();
      }
    } finally {
      bias.dispose();
      half.dispose();
    }
  });

  test('dtypes other than f32/bf16, a buffer of another device, a disposed buffer', () => {
    expectNative(() => ({ cType: 'i32' }), 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'i32');
    const other = openDevice({ device: 'cpu' });
    const foreign = other.native.alloc(4096);
    expectNative(() => ({ b: foreign }), 'ERR_DEVICE_MISMATCH');
    foreign.dispose();
    other.dispose();
    expectNative(() => ({ b: foreign }), 'ERR_DISPOSED');
  });
});

describe('in a child process', () => {
  const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');
  const child = path.join(__dirname, 'launch-child.cjs');
  const b64 = (x: Float32Array | Uint16Array): string => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');

  function runChild(cases: GemmCase[], env: Record<string, string>): { outputs?: string[]; error?: { code: string } } {
    const jobs = cases.map((c) => {
      const d = makeData(c);
      const buffers = { a: b64(d.a), b: b64(d.b), c: b64(d.c), ...(d.bias ? { bias: b64(d.bias) } : {}) };
      return { kernel: 'gemm', spec: specOf(c), buffers, outputs: ['c'] };
    });
    const r = spawnSync(process.execPath, [child], { input: JSON.stringify(jobs), encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { outputs?: string[][]; error?: { code: string } };
    return out.error ? { error: out.error } : { outputs: out.outputs!.map((o) => o[0]!) };
  }

  // Big enough to be split over threads (and to cross kc), odd enough to have edge tiles.
  const CASES: GemmCase[] = [
    denseCase({ m: 301, n: 203, k: 517, seed: 21 }),
    denseCase({ m: 150, n: 333, k: 1100, abType: 'bf16', transB: true, seed: 22 }),
    denseCase({ m: 97, n: 129, k: 300, batch: 5, abType: 'bf16', cType: 'bf16', transA: true, beta: 0.5, bias: true, seed: 23 }),
  ];

  beforeAll(() => {
    if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npx tsup` before these tests');
  });

  test('results are bitwise identical with 1, 3 and the default number of threads', () => {
    const reference = runChild(CASES, {});
    expect(reference.outputs).toHaveLength(CASES.length);
    for (const threads of ['1', '3']) {
      expect(runChild(CASES, { VIT22B_NUM_THREADS: threads })).toEqual(reference);
    }
    // And the default run is itself correct.
    CASES.forEach((c, i) => {
      const bytes = Buffer.from(reference.outputs![i]!, 'base64');
      const out = c.cType === 'f32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      expect(checkResult(c, makeData(c), out)).toEqual([]);
    });
  });

  test.each(['scalar', 'avx2', 'avx512'])('every micro-kernel the CPU has is correct (VIT22B_CPU_ISA=%s)', (isa) => {
    const cases = [...CASES, denseCase({ m: 13, n: 7, k: 5, abType: 'bf16', transA: true, transB: true, seed: 24 })];
    const r = runChild(cases, { VIT22B_CPU_ISA: isa });
    cases.forEach((c, i) => {
      const bytes = Buffer.from(r.outputs![i]!, 'base64');
      const out = c.cType === 'f32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      expect(checkResult(c, makeData(c), out)).toEqual([]);
    });
  });

  test('a bad VIT22B_NUM_THREADS or VIT22B_CPU_ISA is ERR_INVALID_ARGUMENT', () => {
    expect(runChild(CASES.slice(0, 1), { VIT22B_NUM_THREADS: '0' }).error?.code).toBe('ERR_INVALID_ARGUMENT');
    expect(runChild(CASES.slice(0, 1), { VIT22B_CPU_ISA: 'sse9' }).error?.code).toBe('ERR_INVALID_ARGUMENT');
  });
});
