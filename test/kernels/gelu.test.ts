// gelu_fwd / gelu_bwd (native/cpu/gelu.cc) through gelu and geluBackward: what the kernel table
// (test/cases/gelu_fwd.ts, gelu_bwd.ts) cannot say. The float64 comparisons of every shape, form,
// storage, column range, strided row layout and bias, and the backward against finite differences
// of the forward, are cases there (this file's bound, below, reduced to one { abs, rel } per case).
// Here: the float64 reference of test/helpers/norm-reference.ts against tabulated values (the child
// process checks below use it), one correctness check of the wrappers (a bias on a column range and
// on every column), the two forms really differing, in place equal to out of place bit for bit,
// typed errors, and, in child processes, thread-count independence and every ISA path.
//
// Tolerances (f32 math inside; the conditioning of the functions in their argument sets the scale):
//   tanh form, f32: |err| <= 2^-20 (1 + |z|) * |ref| (+ 2^-126: results below the normal range
//                   flush to zero), z = 2 sqrt(2/pi) (x + 0.044715 x^3): the argument of the
//                   logistic function is computed in f32, and sigmoid's relative sensitivity to it
//                   is |z| at most.
//   erf form, f32:  |err| <= 2^-20 (1 + x^2) * |ref| (+ 2^-126): erfc(y)'s relative sensitivity to
//                   its argument grows like 2 y^2 = x^2.
//   backward:       the same factors times |dy| (|term 1| + |term 2|) of gelu' = term 1 + term 2,
//                   so the zero of gelu' near x = -0.75 (where the terms cancel) is bounded fairly.
//   bf16 storage:   the f32 bound + 2^-8 |ref| (one rounding of the output, 2^-9).

import { gelu, geluBackward, openDevice, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { erf, erfc, geluGradTerms, geluRef, geluZ } from '../helpers/norm-reference';
import { mulberry32, randomF32Array } from '../helpers/prng';
import { decodeStorage, runNormsChild, upload, valuesOf, violation, type Storage } from './norm-data';

type Form = 'tanh' | 'erf';
const TINY = 2 ** -126;

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function conditioning(x: number, form: Form): number {
  return 2 ** -20 * (form === 'tanh' ? 1 + Math.abs(geluZ(x)) : 1 + x * x);
}

interface GeluCase {
  shape: number[];
  dtype: Storage;
  form: Form;
  columns?: [number, number];
  seed: number;
}

/** Runs forward and backward; returns inputs and outputs as the device holds them. */
function runCase(c: GeluCase): { x: Float64Array; dy: Float64Array; y: Float64Array; dx: Float64Array } {
  const rng = mulberry32(c.seed);
  const n = c.shape.reduce((a, b) => a * b, 1);
  // |x| in [2^-10, 16): the linear region, the bend, and both tails (gelu(-16) underflows f32).
  const x = upload(device, c.dtype, c.shape, randomF32Array(rng, n, -10, 3));
  const dy = upload(device, c.dtype, c.shape, randomF32Array(rng, n, -3, 1));
  const y = device.alloc(c.dtype, c.shape);
  const dx = device.alloc(c.dtype, c.shape);
  try {
    const options = { form: c.form, ...(c.columns ? { columns: c.columns } : {}) };
    gelu(device, x.t, y, options);
    geluBackward(device, x.t, dy.t, dx, options);
    return { x: x.v, dy: dy.v, y: valuesOf(y), dx: valuesOf(dx) };
  } finally {
    for (const t of [x.t, dy.t, y, dx]) t.dispose();
  }
}

function inRange(c: GeluCase, i: number): boolean {
  if (!c.columns) return true;
  const col = i % c.shape[c.shape.length - 1]!;
  return col >= c.columns[0] && col < c.columns[1];
}

/**
 * Checks one run against the float64 reference; `bias` (optional, per element, 0 outside the range)
 * is added to x inside the range before the GELU.
 */
function checkRun(c: GeluCase, run: { x: Float64Array; dy: Float64Array; y: Float64Array; dx: Float64Array }, bias?: Float64Array): string[] {
  const n = run.x.length;
  const yRef = new Float64Array(n), dxRef = new Float64Array(n), dxScale = new Float64Array(n);
  const arg = (i: number): number => run.x[i]! + (bias ? bias[i]! : 0);
  for (let i = 0; i < n; i++) {
    if (!inRange(c, i)) {
      yRef[i] = run.x[i]!; // copied through: exactly
      dxRef[i] = run.dy[i]!;
      continue;
    }
    const x = arg(i);
    yRef[i] = geluRef(x, c.form);
    const [a, b] = geluGradTerms(x, c.form);
    dxRef[i] = run.dy[i]! * (a + b);
    dxScale[i] = Math.abs(run.dy[i]!) * (Math.abs(a) + Math.abs(b));
  }
  const store = (ref: number): number => (c.dtype === 'bf16' ? 2 ** -8 * Math.abs(ref) : 0);
  const found = [
    violation('y', run.y, yRef, (i) => (inRange(c, i) ? conditioning(arg(i), c.form) * Math.abs(yRef[i]!) + TINY + store(yRef[i]!) : 0)),
    violation('dx', run.dx, dxRef, (i) => (inRange(c, i) ? conditioning(arg(i), c.form) * dxScale[i]! + TINY + store(dxRef[i]!) : 0)),
  ];
  return found.filter((v): v is string => v !== null).map((v) => `${JSON.stringify(c)}: ${v}`);
}

describe('gelu', () => {
  test('the erf / erfc reference matches tabulated values', () => {
    // Abramowitz & Stegun table 7.1 and the DLMF: erf(0.5), erf(1), erf(2), erfc(3), erfc(5).
    expect(Math.abs(erf(0.5) - 0.5204998778130465)).toBeLessThan(1e-15);
    expect(Math.abs(erf(1) - 0.8427007929497149)).toBeLessThan(1e-15);
    expect(Math.abs(erf(2) - 0.9953222650189527)).toBeLessThan(1e-15);
    expect(Math.abs(erfc(3) / 2.209049699858544e-5 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(erfc(-1) - 1.8427007929497148)).toBeLessThan(1e-15);
  });

  test('the two forms really differ (the form option reaches the kernel)', () => {
    const a = runCase({ shape: [64], dtype: 'f32', form: 'tanh', seed: 9 });
    const b = runCase({ shape: [64], dtype: 'f32', form: 'erf', seed: 9 });
    const maxDiff = Math.max(...a.y.map((v, i) => Math.abs(v - b.y[i]!)));
    expect(maxDiff).toBeGreaterThan(1e-5);
  });

  test('in place: y may be x, dx may be dy', () => {
    const rng = mulberry32(77);
    for (const dtype of ['f32', 'bf16'] as const) {
      const x = upload(device, dtype, [9, 20], randomF32Array(rng, 180, -4, 2));
      const dy = upload(device, dtype, [9, 20], randomF32Array(rng, 180, -2, 1));
      const y = device.alloc(dtype, [9, 20]), dx = device.alloc(dtype, [9, 20]);
      const opts = { columns: [4, 13] as [number, number] };
      gelu(device, x.t, y, opts);
      geluBackward(device, x.t, dy.t, dx, opts);
      geluBackward(device, x.t, dy.t, dy.t, opts);
      gelu(device, x.t, x.t, opts);
      expect(x.t.download()).toEqual(y.download());
      expect(dy.t.download()).toEqual(dx.download());
      for (const t of [x.t, dy.t, y, dx]) t.dispose();
    }
  });
});

// ---- strided rows and a bias (lib/kernels/gelu_fwd.ts GeluFwdArgs / GeluBwdArgs xStride..., bias) ----
// Rows r at r * stride in bigger buffers, with padding after the last row.

const PAD = 5;
const eff = (stride: number, cols: number): number => (stride === 0 ? cols : stride);
const spanOf = (rows: number, stride: number, cols: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * eff(stride, cols) + cols);

describe('gelu with a bias and strided rows', () => {
  test('through the wrappers: bias on a column range, and on every column', () => {
    const rng = mulberry32(83);
    const errors: string[] = [];
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const [shape, columns] of [[[3, 7, 38], [15, 38]], [[129], [0, 129]]] as [number[], [number, number]][]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = upload(device, dtype, shape, randomF32Array(rng, n, -10, 3));
        const dy = upload(device, dtype, shape, randomF32Array(rng, n, -3, 1));
        const bias = upload(device, dtype === 'f32' ? 'bf16' : 'f32', [columns[1] - columns[0]], randomF32Array(rng, columns[1] - columns[0], -4, 1));
        const y = device.alloc(dtype, shape), dx = device.alloc(dtype, shape);
        const opts = { form: 'tanh' as const, columns, bias: bias.t };
        gelu(device, x.t, y, opts);
        geluBackward(device, x.t, dy.t, dx, opts);
        const cols = shape[shape.length - 1]!;
        const bv = Float64Array.from(x.v, (_, i) => (i % cols >= columns[0] && i % cols < columns[1] ? bias.v[(i % cols) - columns[0]]! : 0));
        errors.push(...checkRun({ shape, dtype, form: 'tanh', columns, seed: 0 }, { x: x.v, dy: dy.v, y: valuesOf(y), dx: valuesOf(dx) }, bv));
        for (const t of [x.t, dy.t, bias.t, y, dx]) t.dispose();
      }
    }
    expect(errors).toEqual([]);
  });

  test('in place with strides: y = x and dx = dy at the same start and stride', () => {
    const rng = mulberry32(79);
    for (const dtype of ['f32', 'bf16'] as const) {
      const [rows, cols, stride] = [9, 20, 27];
      const n = spanOf(rows, stride, cols) + PAD;
      const xVals = randomF32Array(rng, n, -4, 2), dyVals = randomF32Array(rng, n, -2, 1), bVals = randomF32Array(rng, 9, -3, 0);
      const x = upload(device, dtype, [n], xVals), dy = upload(device, dtype, [n], dyVals), b = upload(device, 'f32', [9], bVals);
      const y = upload(device, dtype, [n], xVals), dx = upload(device, dtype, [n], dyVals);
      const spec = { dtype, form: 'erf' as const, rows, cols, colBegin: 4, colEnd: 13, bias: b.t.buffer, biasType: 'f32' as const };
      device.native.launch('gelu_fwd', { ...spec, x: x.t.buffer, xStride: stride, y: y.t.buffer, yStride: stride });
      device.native.launch('gelu_bwd', { ...spec, x: x.t.buffer, xStride: stride, dy: dy.t.buffer, dyStride: stride, dx: dx.t.buffer, dxStride: stride });
      device.native.launch('gelu_bwd', { ...spec, x: x.t.buffer, xStride: stride, dy: dy.t.buffer, dyStride: stride, dx: dy.t.buffer, dxStride: stride });
      device.native.launch('gelu_fwd', { ...spec, x: x.t.buffer, xStride: stride, y: x.t.buffer, yStride: stride });
      expect(x.t.download()).toEqual(y.t.download());
      expect(dy.t.download()).toEqual(dx.t.download());
      for (const t of [x.t, dy.t, b.t, y.t, dx.t]) t.dispose();
    }
  });
});

describe('typed errors', () => {
  function expectErr(fn: () => void, code: string, expected?: string, received?: string): void {
    const e = thrownBy(fn);
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code, ...(expected !== undefined ? { expected } : {}), ...(received !== undefined ? { received } : {}) });
  }

  test('from the TypeScript wrappers', () => {
    const x = device.alloc('f32', [4, 6]), y = device.alloc('f32', [4, 6]), yb = device.alloc('bf16', [4, 6]);
    const y5 = device.alloc('f32', [4, 5]), xi = device.alloc('i32', [4, 6]), s = device.alloc('f32', []);
    expectErr(() => gelu(device, x, yb), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => gelu(device, xi, y), 'ERR_DTYPE_MISMATCH', 'f32 | bf16', 'i32');
    expectErr(() => gelu(device, x, y5), 'ERR_SHAPE_MISMATCH', '[4, 6]', '[4, 5]');
    expectErr(() => gelu(device, s, s), 'ERR_SHAPE_MISMATCH', '[..., cols]', '[]');
    expectErr(() => gelu(device, x, y, { form: 'exact' as 'erf' }), 'ERR_INVALID_ARGUMENT', "'tanh' | 'erf'", 'exact');
    expectErr(() => gelu(device, x, y, { columns: [4, 7] }), 'ERR_INVALID_ARGUMENT', '0 <= begin <= end <= 6', '[4, 7)');
    expectErr(() => gelu(device, x, y, { columns: [5, 4] }), 'ERR_INVALID_ARGUMENT', '0 <= begin <= end <= 6', '[5, 4)');
    expectErr(() => gelu(device, x, y, { columns: [1.5, 4] }), 'ERR_INVALID_ARGUMENT');
    expectErr(() => gelu(device, x, y, { columns: [1] as unknown as [number, number] }), 'ERR_INVALID_ARGUMENT', '[begin, end]');
    expectErr(() => geluBackward(device, x, y, yb), 'ERR_DTYPE_MISMATCH', 'f32', 'bf16');
    expectErr(() => geluBackward(device, x, y5, y), 'ERR_SHAPE_MISMATCH', '[4, 6]', '[4, 5]');
    // The bias: [end - begin] of f32 or bf16.
    const b3 = device.alloc('f32', [3]), b4 = device.alloc('bf16', [4]), bi = device.alloc('i32', [4]);
    expectErr(() => gelu(device, x, y, { columns: [1, 5], bias: b3 }), 'ERR_SHAPE_MISMATCH', '[4]', '[3]');
    expectErr(() => gelu(device, x, y, { bias: b4 }), 'ERR_SHAPE_MISMATCH', '[6]', '[4]');
    expectErr(() => geluBackward(device, x, y, y, { columns: [1, 5], bias: bi }), 'ERR_DTYPE_MISMATCH', 'f32 | bf16', 'i32');
    expectErr(() => gelu(device, x, y, { bias: {} as DeviceTensor }), 'ERR_INVALID_ARGUMENT');
    gelu(device, x, y, { columns: [1, 5], bias: b4 }); // a bf16 bias with f32 x is fine
    for (const t of [b3, b4, bi]) t.dispose();
    for (const t of [x, y, yb, y5, xi, s]) t.dispose();
    expectErr(() => gelu(device, x, y), 'ERR_DISPOSED');
  });

  test('from the native launcher', () => {
    const base = (patch: Record<string, unknown>, names: string[]): Record<string, unknown> => {
      const s: Record<string, unknown> = { dtype: 'f32', form: 'tanh', rows: 4, cols: 6, colBegin: 1, colEnd: 5 };
      for (const name of names) if (!(name in patch)) s[name] = device.native.alloc(96);
      return { ...s, ...patch };
    };
    const expectNative = (kernel: 'gelu_fwd' | 'gelu_bwd', patch: Record<string, unknown>, code: string, expected?: string, received?: string): void => {
      const s = base(patch, kernel === 'gelu_fwd' ? ['x', 'y'] : ['x', 'dy', 'dx']);
      try {
        expectErr(() => launchUntyped(device, kernel, s), code, expected, received);
      } finally {
        for (const v of Object.values(s)) {
          if (typeof v === 'object' && v !== null && !(v as { disposed: boolean }).disposed) (v as { dispose(): void }).dispose();
        }
      }
    };
    for (const kernel of ['gelu_fwd', 'gelu_bwd'] as const) {
      const ok = base({}, kernel === 'gelu_fwd' ? ['x', 'y'] : ['x', 'dy', 'dx']);
      launchUntyped(device, kernel, ok); // the baseline is valid
      for (const v of Object.values(ok)) if (typeof v === 'object') (v as { dispose(): void }).dispose();
      expectNative(kernel, { rows: 5 }, 'ERR_SHAPE_MISMATCH', '>= 120 bytes (30 f32)', '96 bytes');
      expectNative(kernel, { rows: 2 ** 40, cols: 2 ** 40, colEnd: 2 }, 'ERR_SHAPE_MISMATCH', 'a footprint below 2^63 bytes');
      expectNative(kernel, { colEnd: 7 }, 'ERR_INVALID_ARGUMENT', '0 <= colBegin <= colEnd <= 6', '[1, 7)');
      expectNative(kernel, { colBegin: 6 }, 'ERR_INVALID_ARGUMENT', '0 <= colBegin <= colEnd <= 6', '[6, 5)');
      expectNative(kernel, { colBegin: -1 }, 'ERR_INVALID_ARGUMENT');
      expectNative(kernel, { form: 'fast' }, 'ERR_INVALID_ARGUMENT', 'tanh | erf', 'fast');
      expectNative(kernel, { dtype: 'u8' }, 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'u8');
      expectNative(kernel, { x: 3 }, 'ERR_INVALID_ARGUMENT', 'BufferHandle', 'number');
      const gone = device.native.alloc(96);
      gone.dispose();
      expectNative(kernel, { x: gone }, 'ERR_DISPOSED');
      const other = openDevice({ device: 'cpu' });
      expectNative(kernel, { x: other.native.alloc(96) }, 'ERR_DEVICE_MISMATCH');
      other.dispose();
    }
    const x = device.native.alloc(96);
    expectNative('gelu_bwd', { x, dx: x }, 'ERR_INVALID_ARGUMENT');
  });

  test('from the native launcher: strides and the bias', () => {
    // rows 4, cols 6, range [1, 5): a dense operand is 96 bytes; with stride 8, (3 * 8 + 6) * 4 = 120.
    const base = (patch: Record<string, unknown>, names: string[]): Record<string, unknown> => {
      const s: Record<string, unknown> = { dtype: 'f32', form: 'tanh', rows: 4, cols: 6, colBegin: 1, colEnd: 5 };
      for (const name of names) if (!(name in patch)) s[name] = device.native.alloc(name === 'bias' ? 16 : 96);
      return { ...s, ...patch };
    };
    const operands = (kernel: 'gelu_fwd' | 'gelu_bwd'): string[] => (kernel === 'gelu_fwd' ? ['x', 'y'] : ['x', 'dy', 'dx']);
    const disposeAll = (s: Record<string, unknown>): void => {
      for (const v of Object.values(s)) {
        if (typeof v === 'object' && v !== null && !(v as { disposed: boolean }).disposed) (v as { dispose(): void }).dispose();
      }
    };
    const expectNative = (kernel: 'gelu_fwd' | 'gelu_bwd', patch: Record<string, unknown>, code: string, expected?: string, received?: string): void => {
      const s = base(patch, operands(kernel));
      try {
        expectErr(() => launchUntyped(device, kernel, s), code, expected, received);
      } finally {
        disposeAll(s);
      }
    };
    for (const kernel of ['gelu_fwd', 'gelu_bwd'] as const) {
      // Valid baselines: explicit dense strides, and a bias of each type.
      for (const patch of [{ xStride: 6 }, { xStride: 0 }, { biasType: 'f32' }]) {
        const ok = base(patch, operands(kernel));
        launchUntyped(device, kernel, ok);
        disposeAll(ok);
      }
      for (const biasType of ['f32', 'bf16']) {
        const ok = base({ biasType }, [...operands(kernel), 'bias']);
        launchUntyped(device, kernel, ok);
        disposeAll(ok);
      }
      for (const name of kernel === 'gelu_fwd' ? ['xStride', 'yStride'] : ['xStride', 'dyStride', 'dxStride']) {
        expectNative(kernel, { [name]: 5 }, 'ERR_INVALID_ARGUMENT', '0 or >= 6', '5');
        expectNative(kernel, { [name]: -6 }, 'ERR_INVALID_ARGUMENT');
        expectNative(kernel, { [name]: 1.5 }, 'ERR_INVALID_ARGUMENT');
        expectNative(kernel, { [name]: 8 }, 'ERR_SHAPE_MISMATCH', '>= 120 bytes (30 f32)', '96 bytes');
      }
      const huge = Object.fromEntries((kernel === 'gelu_fwd' ? ['xStride', 'yStride'] : ['xStride', 'dyStride', 'dxStride']).map((n) => [n, 2 ** 40]));
      expectNative(kernel, { ...huge, rows: 2 ** 30 }, 'ERR_SHAPE_MISMATCH', 'a footprint below 2^63 bytes');
      const bias = device.native.alloc(16);
      expectNative(kernel, { bias }, 'ERR_INVALID_ARGUMENT', "biasType 'f32' or 'bf16'", 'undefined');
      expectNative(kernel, { bias: device.native.alloc(16), biasType: 'i32' }, 'ERR_DTYPE_MISMATCH', 'f32 or bf16', 'i32');
      expectNative(kernel, { bias: device.native.alloc(12), biasType: 'f32' }, 'ERR_SHAPE_MISMATCH', '>= 16 bytes (4 f32)', '12 bytes');
      expectNative(kernel, { bias: device.native.alloc(6), biasType: 'bf16' }, 'ERR_SHAPE_MISMATCH', '>= 8 bytes (4 bf16)', '6 bytes');
      expectNative(kernel, { bias: 3, biasType: 'f32' }, 'ERR_INVALID_ARGUMENT', 'BufferHandle', 'number');
      bias.dispose();
      // The bias may not be the output.
      const out = device.native.alloc(96);
      expectNative(kernel, { [kernel === 'gelu_fwd' ? 'y' : 'dx']: out, bias: out, biasType: 'f32' }, 'ERR_INVALID_ARGUMENT');
    }
    // In place only at the same start with the same stride.
    const shared = (): unknown => device.native.alloc(160);
    let b = shared();
    expectNative('gelu_fwd', { x: b, y: b, xStride: 8, yStride: 9 }, 'ERR_INVALID_ARGUMENT', 'distinct, or the same start and stride', 'the same buffer, strides 9/8');
    b = shared();
    const fine = base({ x: b, y: b, xStride: 6 }, ['x', 'y']);
    launchUntyped(device, 'gelu_fwd', fine); // stride 6 is the dense 0
    disposeAll(fine);
    b = shared();
    expectNative('gelu_bwd', { dy: b, dx: b, dyStride: 7, dxStride: 8 }, 'ERR_INVALID_ARGUMENT');
  });
});

describe('in a child process', () => {
  type ChildOut = Record<string, string> & { cases: { dtype: Storage; form: Form; shape: number[]; columns?: [number, number]; biasType?: Storage }[] };
  const runChild = (env: Record<string, string | undefined>): ChildOut => runNormsChild<ChildOut>('gelu', env);
  const decode = decodeStorage;

  test('results are bitwise identical for 1, 3 and the default thread count', () => {
    const reference = runChild({ VIT22B_NUM_THREADS: undefined });
    expect(reference.cases).toHaveLength(6);
    for (const threads of ['1', '3']) expect(runChild({ VIT22B_NUM_THREADS: threads })).toEqual(reference);
  });

  // The baseline build of gelu_math.h (scalar / avx2 caps) and its AVX-512 build may differ in the
  // last bits (the AVX-512 build may fuse multiply-adds); each must meet the reference bound.
  test.each(['scalar', 'avx2', 'avx512'])('every ISA path meets the reference bound (VIT22B_CPU_ISA=%s)', (isa) => {
    const out = runChild({ VIT22B_CPU_ISA: isa });
    const errors = out.cases.flatMap((c, i) => {
      const run = { x: decode(out[`${i}-x`]!, c.dtype), dy: decode(out[`${i}-dy`]!, c.dtype), y: decode(out[`${i}-y`]!, c.dtype), dx: decode(out[`${i}-dx`]!, c.dtype) };
      expect(run.x.length).toBe(c.shape[0]! * c.shape[1]!);
      // The bias, laid out per element (0 outside the range) for checkRun.
      let bias: Float64Array | undefined;
      if (c.biasType) {
        const b = decode(out[`${i}-bias`]!, c.biasType), cols = c.shape[1]!, c0 = c.columns ? c.columns[0] : 0, c1 = c.columns ? c.columns[1] : cols;
        bias = Float64Array.from(run.x, (_, k) => (k % cols >= c0 && k % cols < c1 ? b[(k % cols) - c0]! : 0));
      }
      return checkRun({ ...c, seed: 0 }, run, bias);
    });
    expect(errors).toEqual([]);
  });

  test('the child really reads VIT22B_CPU_ISA: an unknown value is ERR_INVALID_ARGUMENT', () => {
    // runNormsChild throws with the child's stderr when it exits non-zero.
    expect(() => runNormsChild('gelu', { VIT22B_CPU_ISA: 'sse9' })).toThrow(/ERR_INVALID_ARGUMENT/);
  });
});
