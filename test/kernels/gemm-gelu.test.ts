// The GEMM epilogue BiasGeluColumns (native/cpu/gemm.cc storeBlock + gelu.cc geluInPlace):
// C = GELU on columns [begin, end) of (alpha op(A) op(B) + beta C + bias), the other columns left
// at the linear value. The float64 comparisons (both forms; ranges inside, across and at the edges
// of the C blocks; alpha / beta, no bias, transposed, batched, k = 0; an f32 bias on a bf16 C) are
// cases of test/cases/gemm.ts, with this file's former bound (the GEMM bound on the linear value,
// then 1.2 tv + the GELU conditioning of gelu.test.ts, + 2^-8 |result| for a bf16 C).
// Here: the columns outside the range are bitwise the plain bias epilogue's (two launches compared,
// which the table cannot say), Device.gemm's gelu option building the right spec, typed errors.
import { openDevice, Vit22bError, type Device, type DeviceTensor } from '../../lib';
import type { NativeBuffer, NativeGemmSpec } from '../../lib/runtime/native-types';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { geluRef } from '../helpers/norm-reference';
import { denseCase, makeData, type GemmCase, type GemmData } from './gemm-cases';

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

describe('gemm with the bias + GELU-on-columns epilogue', () => {
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
