// Top-k accuracy, sums, sums of squares, the global norm and casts (native/cpu/topk_accuracy.cc,
// reduce_sum.cc, global_norm.cc, block_sum*.cc, cast.cc): what the kernel table (test/cases/
// topk_accuracy.ts, reduce_sum.ts, global_norm.ts, cast.ts) cannot say. The comparisons of every
// shape and storage (counts against a full sort with ties, NaN and inf; sums across block edges; an
// empty sum; mixed, repeated and prefixed norm lists; f32 -> bf16 rounding with its special values)
// are cases there. Here: one correctness check of each wrapper, 2^25 + 3 elements (past where an f32
// sum stalls), every bf16 bit pattern uploaded raw (NaN payloads included), typed errors, and
// thread-count and ISA independence in child processes.
// Tolerances:
//   reduce_sum, global_norm: |err| <= 2^-23 |ref| + 1e-12 sum|x|  (double accumulation, one f32
//     rounding of the result); integer counts and casts are exact.
import { cast, globalNorm, openDevice, reduceSum, sumOfSquares, topkAccuracy, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { decodeBf16, referenceBf16Bits } from '../helpers/float-reference';
import { decodeOutput, randomValues, runInChild, tensorOf, type ChildJob, type Storage } from '../helpers/kernel-runs';
import { mulberry32, randomF32Array } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

function codeOf(fn: () => unknown): string {
  const e = thrownBy(fn);
  expect(e).toBeInstanceOf(Vit22bError);
  return (e as Vit22bError).code;
}

describe('topk_accuracy', () => {
  test('ties, documented: an equal logit at a lower index wins; at a higher index loses', () => {
    using logits = device.tensor('f32', [4, 3], Float32Array.from([5, 5, 1, 5, 5, 1, 2, NaN, 1, NaN, 0, 0]));
    using labels = device.tensor('i32', [4], Int32Array.from([0, 1, 0, 0]));
    using counts = device.alloc('i32', [2]);
    topkAccuracy(device, logits, labels, counts, { k: 2 });
    // Row 0: label 0 ties with 1, wins. Row 1: label 1 ties with 0, rank 1 (top-2 only). Row 2: a NaN
    // elsewhere is ignored, label 0 is the max. Row 3: the label's logit is NaN, never counted.
    expect(Array.from(counts.download())).toEqual([2, 3]);
  });

  test('typed errors', () => {
    using logits = device.tensor('f32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    using labels = device.tensor('i32', [2], Int32Array.from([0, 3]));
    using counts = device.tensor('i32', [2], Int32Array.from([9, 9]));
    expect(codeOf(() => topkAccuracy(device, logits, labels, counts))).toBe('ERR_INVALID_ARGUMENT');
    expect(Array.from(counts.download())).toEqual([9, 9]);
    labels.upload(Int32Array.from([0, 2]));
    expect(codeOf(() => topkAccuracy(device, logits, labels, counts, { k: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    using three = device.tensor('i32', [3], Int32Array.from([0, 1, 2]));
    expect(codeOf(() => topkAccuracy(device, logits, three, counts))).toBe('ERR_SHAPE_MISMATCH');
    using f = device.alloc('f32', [2]);
    expect(codeOf(() => topkAccuracy(device, logits, f, counts))).toBe('ERR_DTYPE_MISMATCH');
    const spec = { dtype: 'f32' as const, n: 2, c: 3, k: 1, logits: logits.buffer, labels: labels.buffer, counts: counts.buffer };
    device.native.launch('topk_accuracy', spec);
    expect(codeOf(() => device.native.launch('topk_accuracy', { ...spec, k: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('topk_accuracy', { ...spec, n: 3 }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => device.native.launch('topk_accuracy', { ...spec, counts: labels.buffer }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

function sumRef(x: ArrayLike<number>, squares: boolean): { sum: number; abs: number } {
  let sum = 0, abs = 0;
  for (let i = 0; i < x.length; i++) {
    const v = squares ? x[i]! * x[i]! : x[i]!;
    sum += v;
    abs += Math.abs(v);
  }
  return { sum, abs };
}

function expectSum(got: number, ref: { sum: number; abs: number }): void {
  expect(Math.abs(got - ref.sum)).toBeLessThanOrEqual(2 ** -23 * Math.abs(ref.sum) + 1e-12 * ref.abs);
}

describe('reduce_sum and global_norm', () => {
  test('reduceSum and sumOfSquares against float64: bf16, n = 16385 (across a block edge)', () => {
    const n = 16385;
    const x = randomValues(mulberry32(21), n, -2, 3, 'bf16');
    using t = tensorOf(device, 'bf16', [n], x);
    using out = device.alloc('f32', [1]);
    reduceSum(device, t, out);
    expectSum(out.toFloat32()[0]!, sumRef(x, false));
    sumOfSquares(device, t, out);
    expectSum(out.toFloat32()[0]!, sumRef(x, true));
  });

  test('accurate past 2^24 elements: 2^25 + 3 ones sum to the f32 nearest 2^25 + 3 (a float sum stalls at 2^24)', () => {
    const n = 2 ** 25 + 3;
    using t = device.tensor('bf16', [n], new Uint16Array(n).fill(0x3f80)); // bf16 1.0
    using out = device.alloc('f32', [1]);
    reduceSum(device, t, out);
    expect(out.toFloat32()[0]).toBe(Math.fround(n));
    sumOfSquares(device, t, out);
    expect(out.toFloat32()[0]).toBe(Math.fround(n));
  });

  test('globalNorm of mixed f32 / bf16 buffers of many sizes against float64, and of an empty list', () => {
    const rng = mulberry32(22);
    const parts: [Storage, number[]][] = [['f32', [17]], ['bf16', [3, 5]], ['f32', [20000]], ['bf16', [1]], ['f32', [129, 3]], ['bf16', [40000]]];
    const values = parts.map(([dtype, shape]) => randomValues(rng, shape.reduce((a, b) => a * b, 1), -1, 1, dtype));
    const tensors = parts.map(([dtype, shape], i) => tensorOf(device, dtype, shape, values[i]!));
    using out = device.alloc('f32', [1]);
    try {
      globalNorm(device, tensors, out);
      const ref = values.map((v) => sumRef(v, true)).reduce((a, b) => ({ sum: a.sum + b.sum, abs: a.abs + b.abs }));
      expect(Math.abs(out.toFloat32()[0]! - Math.sqrt(ref.sum))).toBeLessThanOrEqual(2 ** -23 * Math.sqrt(ref.sum));
      globalNorm(device, [], out);
      expect(out.toFloat32()[0]).toBe(0);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
  });

  test('typed errors', () => {
    using x = device.tensor('f32', [3], Float32Array.from([1, 2, 3]));
    using out = device.alloc('f32', [1]);
    using i = device.alloc('i32', [1]);
    expect(codeOf(() => reduceSum(device, i, out))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => reduceSum(device, x, x))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => globalNorm(device, [x, i], out))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => globalNorm(device, 'x' as never, out))).toBe('ERR_INVALID_ARGUMENT');
    const g = { buffers: [x.buffer], dtypes: ['f32' as const], sizes: [3], out: out.buffer };
    device.native.launch('global_norm', g);
    expect(codeOf(() => device.native.launch('global_norm', { ...g, sizes: [4] }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => device.native.launch('global_norm', { ...g, sizes: [3, 1] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => launchUntyped(device, 'global_norm', { ...g, dtypes: ['u8'] }))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => device.native.launch('global_norm', { ...g, buffers: [out.buffer], sizes: [1] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('global_norm', { ...g, sizes: [-1] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => device.native.launch('reduce_sum', { dtype: 'f32', n: 4, squares: false, x: x.buffer, out: out.buffer }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => launchUntyped(device, 'reduce_sum', { dtype: 'f32', n: 3, squares: 1, x: x.buffer, out: out.buffer }))).toBe('ERR_INVALID_ARGUMENT');
    const gone = device.alloc('f32', [3]);
    gone.dispose();
    expect(codeOf(() => device.native.launch('global_norm', { ...g, buffers: [gone.buffer] }))).toBe('ERR_DISPOSED');
    const other = openDevice({ device: 'cpu' });
    try {
      using foreign = other.alloc('f32', [3]);
      expect(codeOf(() => globalNorm(device, [foreign], out))).toBe('ERR_DEVICE_MISMATCH');
    } finally {
      other.dispose();
    }
  });

  test('bitwise identical results for 1, 3 and the default number of threads, and for the scalar and AVX-512 loops', () => {
    const rng = mulberry32(23);
    const a = Float32Array.from(randomValues(rng, 300007, -1, 1, 'f32'));
    const b = new Uint16Array(Float32Array.from(randomValues(rng, 70001, -4, 4, 'f32')).map((v) => referenceBf16Bits(v)!));
    const jobs: ChildJob[] = [
      { kernel: 'reduce_sum', spec: { dtype: 'f32', n: a.length, squares: false }, buffers: { x: a, out: new Float32Array(1) }, outputs: ['out'] },
      { kernel: 'reduce_sum', spec: { dtype: 'bf16', n: b.length, squares: true }, buffers: { x: b, out: new Float32Array(1) }, outputs: ['out'] },
      {
        kernel: 'global_norm',
        spec: { dtypes: ['f32', 'bf16', 'f32'], sizes: [a.length, b.length, 5] },
        buffers: { a, b, c: a.subarray(0, 5), out: new Float32Array(1) },
        lists: { buffers: ['a', 'b', 'c'] },
        outputs: ['out'],
      },
    ];
    const reference = runInChild(jobs, { VIT22B_NUM_THREADS: '1' });
    expect(reference.error).toBeUndefined();
    const envs: Record<string, string>[] = [{ VIT22B_NUM_THREADS: '3' }, {}, { VIT22B_CPU_ISA: 'scalar' }];
    for (const env of envs) expect(runInChild(jobs, env)).toEqual(reference);
    expectSum((decodeOutput(reference.outputs![0]![0]!, 'f32') as Float32Array)[0]!, sumRef(a, false));
  });
});

describe('cast', () => {
  test('bf16 -> f32 is exact for all 65536 bit patterns; f32 -> f32 copies', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    using src = device.tensor('bf16', [65536], bits);
    using dst = device.alloc('f32', [65536]);
    cast(device, src, dst);
    const got = dst.toFloat32();
    for (let i = 0; i < 65536; i++) {
      const want = decodeBf16(i);
      if (!(Object.is(got[i], want) || (Number.isNaN(want) && Number.isNaN(got[i]!)))) throw new Error(`bits 0x${i.toString(16)}: got ${got[i]}`);
    }
    using copy = device.alloc('f32', [65536]);
    cast(device, dst, copy);
    expect(Buffer.from(copy.download().buffer)).toEqual(Buffer.from(got.buffer));
  });

  test('a cast large enough to run on every thread matches the single-threaded one', () => {
    const rng = mulberry32(32);
    const x = randomF32Array(rng, 200003, -20, 20);
    const jobs: ChildJob[] = [{ kernel: 'cast', spec: { from: 'f32', to: 'bf16', n: x.length }, buffers: { x, y: new Uint16Array(x.length) }, outputs: ['y'] }];
    const one = runInChild(jobs, { VIT22B_NUM_THREADS: '1' });
    expect(runInChild(jobs, { VIT22B_NUM_THREADS: '3' })).toEqual(one);
    const y = decodeOutput(one.outputs![0]![0]!, 'u16');
    expect(Array.from(y.subarray(0, 1000))).toEqual(Array.from(x.subarray(0, 1000), (v) => referenceBf16Bits(v)));
  });

  test('typed errors', () => {
    using x = device.alloc('f32', [4]);
    using y = device.alloc('bf16', [5]);
    using i = device.alloc('i32', [4]);
    expect(codeOf(() => cast(device, x, y))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => cast(device, x, i))).toBe('ERR_DTYPE_MISMATCH');
    expect(codeOf(() => device.native.launch('cast', { from: 'f32', to: 'bf16', n: 6, x: x.buffer, y: y.buffer }))).toBe('ERR_SHAPE_MISMATCH');
    expect(codeOf(() => device.native.launch('cast', { from: 'f32', to: 'f32', n: 4, x: x.buffer, y: x.buffer }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => launchUntyped(device, 'cast', { from: 'f16', to: 'f32', n: 4, x: x.buffer, y: y.buffer }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
