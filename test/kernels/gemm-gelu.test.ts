// The GEMM epilogue BiasGeluColumns (native/cpu/gemm.cc storeBlock + gelu.cc geluInPlace):
// C = GELU on columns [begin, end) of (alpha op(A) op(B) + beta C + bias), the other columns left
// at the linear value, against a float64 reference.
// Tolerance per element: the GEMM bound of gemm-cases.ts on the linear value v,
//   tv = |alpha| k 2^-23 sum|a b| + 2^-22 (|alpha dot| + |beta c| + |bias|),
// then on GELU columns 1.2 tv (|gelu'| < 1.13 everywhere) + the GELU bound of gelu.test.ts,
// 2^-20 (1 + |z|) |gelu(v)| (tanh) or 2^-20 (1 + v^2) |gelu(v)| (erf), + 2^-126; a bf16 C adds
// 2^-8 |result| for its one rounding.
import { openDevice, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import type { NativeBuffer, NativeGemmSpec } from '../../lib/runtime/native-types';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { geluRef, geluZ } from '../helpers/norm-reference';
import { denseCase, get, makeData, type GemmCase, type GemmData } from './gemm-cases';

type Form = 'tanh' | 'erf';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

interface GeluGemm {
  c: GemmCase;
  form: Form;
  columns: [number, number];
}

function upload(arr: Float32Array | Uint16Array): NativeBuffer {
  const buf = device.native.alloc(arr.byteLength);
  buf.upload(arr);
  return buf;
}

function run(t: GeluGemm, data: GemmData): Float32Array | Uint16Array {
  const { c } = t;
  const spec: NativeGemmSpec = {
    abType: c.abType, cType: c.cType, transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, batch: c.batch,
    alpha: c.alpha, beta: c.beta, lda: c.lda, ldb: c.ldb, ldc: c.ldc, strideA: c.strideA, strideB: c.strideB, strideC: c.strideC,
    geluForm: t.form, geluBegin: t.columns[0], geluEnd: t.columns[1], ...(c.biasType ? { biasType: c.biasType } : {}),
    a: upload(data.a), b: upload(data.b), c: upload(data.c), ...(data.bias ? { bias: upload(data.bias) } : {}),
  };
  try {
    device.native.launch('gemm', spec);
    const out = c.cType === 'f32' ? new Float32Array(data.c.length) : new Uint16Array(data.c.length);
    spec.c.download(out);
    return out;
  } finally {
    for (const b of [spec.a, spec.b, spec.c, spec.bias]) b?.dispose();
  }
}

/** The first failures of a dense case (ld = row length, one matrix per batch). */
function check(t: GeluGemm): string[] {
  const { c, form } = t;
  const data = makeData(c);
  const out = run(t, data);
  const failures: string[] = [];
  const abs = Math.abs;
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.m; i++) {
      for (let j = 0; j < c.n; j++) {
        let dot = 0, s = 0;
        for (let p = 0; p < c.k; p++) {
          const a = get(data.a, b * c.strideA + (c.transA ? p * c.lda + i : i * c.lda + p));
          const w = get(data.b, b * c.strideB + (c.transB ? j * c.ldb + p : p * c.ldb + j));
          dot += a * w;
          s += abs(a * w);
        }
        const idx = b * c.strideC + i * c.ldc + j;
        const old = c.beta === 0 ? 0 : get(data.c, idx);
        const bias = data.bias ? get(data.bias, j) : 0;
        const v = c.alpha * dot + c.beta * old + bias;
        const tv = abs(c.alpha) * c.k * 2 ** -23 * s + 2 ** -22 * (abs(c.alpha * dot) + abs(c.beta * old) + abs(bias));
        const inRange = j >= t.columns[0] && j < t.columns[1];
        const want = inRange ? geluRef(v, form) : v;
        let tol = inRange ? 1.2 * tv + 2 ** -20 * (form === 'tanh' ? 1 + abs(geluZ(v)) : 1 + v * v) * abs(want) + 2 ** -126 : tv;
        if (c.cType === 'bf16') tol += 2 ** -8 * abs(want);
        const got = get(out, idx);
        if (!(abs(got - want) <= tol) && failures.length < 5) failures.push(`${JSON.stringify(t)}: C[${b}][${i}][${j}] = ${got}, want ${want} ± ${tol}`);
      }
    }
  }
  return failures;
}

describe('gemm with the bias + GELU-on-columns epilogue, against the float64 reference', () => {
  test.each(['tanh', 'erf'] as const)('%s form: odd sizes, ranges inside / across / at the edges of C blocks (nc <= 192)', (form) => {
    const cases: [number, number, number, [number, number]][] = [
      [1, 1, 1, [0, 1]],
      [3, 17, 5, [3, 17]],
      [17, 35, 129, [0, 0]],
      [9, 450, 33, [100, 400]], // crosses the 192-column block boundary
      [5, 450, 7, [192, 384]], // exactly one block's columns
      [33, 7 * 24, 24, [3 * 24, 7 * 24]], // the fused QKV + MLP-in shape, D = 24, F = 4D
    ];
    const errors = cases.flatMap(([m, n, k, columns], i) =>
      (['f32', 'bf16'] as const).flatMap((cType) =>
        (['f32', 'bf16'] as const).flatMap((abType) => check({ c: denseCase({ m, n, k, abType, cType, bias: true, seed: 40 + i }), form, columns })),
      ),
    );
    expect(errors).toEqual([]);
  });

  test('after alpha and beta, without a bias, transposed and batched operands', () => {
    const errors = [
      ...check({ c: denseCase({ m: 37, n: 41, k: 300, alpha: -0.75, beta: 1.5, bias: true, seed: 50 }), form: 'tanh', columns: [10, 30] }),
      ...check({ c: denseCase({ m: 20, n: 50, k: 19, bias: false, transB: true, seed: 51 }), form: 'erf', columns: [0, 50] }),
      ...check({ c: denseCase({ m: 13, n: 29, k: 64, batch: 3, abType: 'bf16', cType: 'bf16', transA: true, bias: true, seed: 52 }), form: 'tanh', columns: [7, 28] }),
      ...check({ c: denseCase({ m: 4, n: 6, k: 0, beta: 0.5, bias: true, seed: 53 }), form: 'tanh', columns: [2, 5] }), // k = 0
    ];
    expect(errors).toEqual([]);
  });

  // bf16-mixed training: the fused QKV + MLP-in projection with its f32 master bias on a bf16 C.
  test.each(['tanh', 'erf'] as const)('%s form: f32 bias on a bf16 C, sub-ranges, beta 0 and 1, odd sizes', (form) => {
    const cases: [number, number, number, [number, number]][] = [
      [1, 1, 1, [0, 1]],
      [3, 17, 5, [3, 17]],
      [17, 35, 129, [1, 34]],
      [9, 450, 33, [100, 400]],
      [33, 7 * 24, 24, [3 * 24, 7 * 24]],
    ];
    const errors = cases.flatMap(([m, n, k, columns], i) =>
      (['bf16', 'f32'] as const).flatMap((abType) =>
        [0, 1].flatMap((beta) => check({ c: denseCase({ m, n, k, abType, cType: 'bf16', beta, bias: true, biasType: 'f32', transB: i % 2 === 1, seed: 70 + i + beta }), form, columns })),
      ),
    );
    expect(errors).toEqual([]);
  });

  test('columns outside the range hold exactly the plain bias epilogue result', () => {
    const c = denseCase({ m: 31, n: 300, k: 45, bias: true, seed: 54 });
    const data = makeData(c);
    const withGelu = run({ c, form: 'tanh', columns: [50, 250] }, data);
    const plain = device.native.alloc(data.c.byteLength);
    const buffers = [upload(data.a), upload(data.b), upload(data.bias!)];
    try {
      device.native.launch('gemm', { ...c, a: buffers[0]!, b: buffers[1]!, c: plain, bias: buffers[2]! });
      const out = new Float32Array(data.c.length);
      plain.download(out);
      let differing = 0;
      for (let i = 0; i < c.m; i++) {
        for (let j = 0; j < c.n; j++) {
          const same = Object.is(out[i * c.n + j], withGelu[i * c.n + j]);
          if (j < 50 || j >= 250) expect(same).toBe(true);
          else if (!same) differing++;
        }
      }
      expect(differing).toBeGreaterThan(c.m * 150); // GELU really ran on the range
    } finally {
      for (const b of [...buffers, plain]) b.dispose();
    }
  });
});

describe('Device.gemm option gelu', () => {
  test('on tensors: x [B, T, D] @ W [D, 7D] + b with GELU on the MLP columns', () => {
    const B = 2, T = 5, D = 8;
    const fill = (shape: number[], seed: number): DeviceTensor => {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = Math.sin(seed * 7.1 + i * 1.3) + 0.05;
      return device.tensor('f32', shape, v);
    };
    const x = fill([B, T, D], 1), w = fill([D, 7 * D], 2), bias = fill([7 * D], 3), y = device.alloc('f32', [B, T, 7 * D]);
    try {
      device.gemm(x, w, y, { bias, gelu: { columns: [3 * D, 7 * D] } });
      const xv = x.toFloat32(), wv = w.toFloat32(), bv = bias.toFloat32(), yv = y.toFloat32();
      for (let r = 0; r < B * T; r++) {
        for (let j = 0; j < 7 * D; j++) {
          let v = bv[j]!;
          for (let p = 0; p < D; p++) v += xv[r * D + p]! * wv[p * 7 * D + j]!;
          const want = j >= 3 * D ? geluRef(v, 'tanh') : v;
          expect(Math.abs(yv[r * 7 * D + j]! - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
        }
      }
    } finally {
      for (const t of [x, w, bias, y]) t.dispose();
    }
  });

  test('typed errors', () => {
    const a = device.alloc('f32', [4, 5]), b = device.alloc('f32', [5, 6]), c = device.alloc('f32', [4, 6]);
    const expectErr = (fn: () => void, code: string, expected?: string, received?: string): void => {
      const e = thrownBy(fn);
      expect(e).toBeInstanceOf(Vit22bError);
      expect(e).toMatchObject({ code, ...(expected !== undefined ? { expected } : {}), ...(received !== undefined ? { received } : {}) });
    };
    expectErr(() => device.gemm(a, b, c, { gelu: { columns: [2, 7] } }), 'ERR_INVALID_ARGUMENT', '0 <= begin <= end <= 6', '[2, 7)');
    expectErr(() => device.gemm(a, b, c, { gelu: { form: 'fast' as Form } }), 'ERR_INVALID_ARGUMENT', "'tanh' | 'erf'", 'fast');
    expectErr(() => device.gemm(a, b, c, { gelu: null as never }), 'ERR_INVALID_ARGUMENT', '{ form?, columns? }', 'null');
    const native = { abType: 'f32', cType: 'f32', transA: false, transB: false, m: 4, n: 6, k: 5, batch: 1, alpha: 1, beta: 0, a: a.buffer, lda: 5, strideA: 20, b: b.buffer, ldb: 6, strideB: 30, c: c.buffer, ldc: 6, strideC: 24 } as const;
    expectErr(() => device.native.launch('gemm', { ...native, geluForm: 'tanh', geluBegin: 4, geluEnd: 3 }), 'ERR_INVALID_ARGUMENT', '0 <= geluBegin <= geluEnd <= 6', '[4, 3)');
    expectErr(() => device.native.launch('gemm', { ...native, geluForm: 'tanh', geluBegin: 0, geluEnd: 7 }), 'ERR_INVALID_ARGUMENT', '0 <= geluBegin <= geluEnd <= 6', '[0, 7)');
    expectErr(() => device.native.launch('gemm', { ...native, geluForm: 'tanh', geluBegin: 0 }), 'ERR_INVALID_ARGUMENT', 'number', 'undefined');
    expectErr(() => launchUntyped(device, 'gemm', { ...native, geluForm: 'gelu', geluBegin: 0, geluEnd: 1 }), 'ERR_INVALID_ARGUMENT', 'tanh | erf', 'gelu');
    expectErr(() => device.native.launch('gemm', { ...native, bias: b.buffer, biasType: 'bf16', geluForm: 'tanh', geluBegin: 0, geluEnd: 6 }), 'ERR_INVALID_ARGUMENT', 'f32', 'bf16');
    expectErr(() => launchUntyped(device, 'gemm', { ...native, cType: 'bf16', biasType: 'f64', geluForm: 'erf', geluBegin: 0, geluEnd: 6 }), 'ERR_INVALID_ARGUMENT', 'f32 or bf16', 'f64');
    for (const t of [a, b, c]) t.dispose();
  });
});
