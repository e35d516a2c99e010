// Softmax and sigmoid cross-entropy (native/cpu/softmax_xent.cc, sigmoid_xent.cc) against float64
// references written from the definitions, finite-difference checks of dlogits, stability at
// extreme logits, typed errors, and thread-count independence.
// Tolerances (inputs are exact f32 / bf16 values, so only the kernel's own arithmetic counts):
//   loss (f32 out):         |err| <= 4e-6 |ref| + 4e-6 (1 + max |logit| of the row)   (f32 x - max)
//   dlogits f32:            |err| <= 1e-5 |ref| + 1e-6 |dscale / N|
//   dlogits bf16:           |err| <= 2^-8 |ref| + 1e-6 |dscale / N|   (one bf16 rounding)
//   vs finite differences:  |err| <= 1e-4 |fd| + 1e-5 |dscale / N|    (h = 1e-4 in float64)
import { openDevice, sigmoidCrossEntropy, softmaxCrossEntropy, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { centralDifferences, mismatch, randomValues, runInChild, tensorOf, type ChildJob, type Storage, decodeOutput } from '../helpers/kernel-runs';
import { mulberry32, randInt, type Rng } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

// ---- float64 references ----

/** Softmax cross-entropy of each row: logsumexp - sum_j q_j x_j with q the smoothed one-hot. */
function softmaxLossRef(x: Float64Array, n: number, c: number, labels: Int32Array, eps: number): Float64Array {
  const loss = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * c, (i + 1) * c);
    const m = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    let l = 0;
    for (let j = 0; j < c; j++) l -= ((j === labels[i] ? 1 - eps : 0) + eps / c) * (row[j]! - lse);
    loss[i] = l;
  }
  return loss;
}

function softmaxGradRef(x: Float64Array, n: number, c: number, labels: Int32Array, eps: number, dscale: number): Float64Array {
  const g = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * c, (i + 1) * c);
    const m = Math.max(...row);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    for (let j = 0; j < c; j++) {
      const q = (j === labels[i] ? 1 - eps : 0) + eps / c;
      g[i * c + j] = ((Math.exp(row[j]! - m) / s - q) * dscale) / n;
    }
  }
  return g;
}

/** -t' log s - (1 - t') log(1 - s), summed over classes; the naive form, fine for |x| <= 30. */
function sigmoidLossNaive(x: Float64Array, t: Float64Array, n: number, c: number, eps: number): Float64Array {
  const loss = new Float64Array(n);
  for (let i = 0; i < n * c; i++) {
    const s = 1 / (1 + Math.exp(-x[i]!));
    const tt = (1 - eps) * t[i]! + eps / 2;
    const r = Math.floor(i / c);
    loss[r] = loss[r]! - (tt * Math.log(s) + (1 - tt) * Math.log(1 - s));
  }
  return loss;
}

function rowMaxAbs(x: Float64Array, n: number, c: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n * c; i++) out[Math.floor(i / c)] = Math.max(out[Math.floor(i / c)]!, Math.abs(x[i]!));
  return out;
}

function lossViolation(got: Float32Array, ref: Float64Array, maxAbs: Float64Array): string | null {
  for (let i = 0; i < ref.length; i++) {
    const bound = 4e-6 * Math.abs(ref[i]!) + 4e-6 * (1 + maxAbs[i]!);
    if (!(Math.abs(got[i]! - ref[i]!) <= bound)) return `loss ${i}: got ${got[i]}, reference ${ref[i]}`;
  }
  return null;
}

function randomLabels(rng: Rng, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, () => randInt(rng, 0, c - 1));
}

interface XentRun {
  loss: Float32Array;
  dlogits: Float32Array;
}

function runSoftmax(dtype: Storage, x: Float64Array, n: number, c: number, labels: Int32Array, eps: number, dscale: number): XentRun {
  using logits = tensorOf(device, dtype, [n, c], x);
  using lab = device.tensor('i32', [n], labels);
  using loss = device.alloc('f32', [n]);
  using dlogits = device.alloc(dtype, [n, c]);
  softmaxCrossEntropy(device, logits, lab, loss, { dlogits, labelSmoothing: eps, dscale });
  return { loss: loss.toFloat32(), dlogits: dlogits.toFloat32() };
}

function runSigmoid(dtype: Storage, x: Float64Array, t: Float64Array, n: number, c: number, eps: number, dscale: number): XentRun {
  using logits = tensorOf(device, dtype, [n, c], x);
  using targets = tensorOf(device, 'f32', [n, c], t);
  using loss = device.alloc('f32', [n]);
  using dlogits = device.alloc(dtype, [n, c]);
  sigmoidCrossEntropy(device, logits, targets, loss, { dlogits, labelSmoothing: eps, dscale });
  return { loss: loss.toFloat32(), dlogits: dlogits.toFloat32() };
}

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 3],
  [3, 17],
  [17, 129],
  [5, 1000],
  [129, 33],
];
const DTYPES: Storage[] = ['f32', 'bf16'];

describe('softmax cross-entropy', () => {
  test.each(DTYPES)('%s: loss and dlogits against the float64 reference, with and without smoothing', (dtype) => {
    const rng = mulberry32(101);
    for (const [n, c] of SHAPES) {
      for (const eps of [0, 0.1]) {
        const dscale = 0.5 + rng() * 3;
        const x = randomValues(rng, n * c, -6, 6, dtype);
        const labels = randomLabels(rng, n, c);
        const got = runSoftmax(dtype, x, n, c, labels, eps, dscale);
        expect(lossViolation(got.loss, softmaxLossRef(x, n, c, labels, eps), rowMaxAbs(x, n, c))).toBeNull();
        const rel = dtype === 'f32' ? 1e-5 : 2 ** -8;
        expect(mismatch(got.dlogits, softmaxGradRef(x, n, c, labels, eps, dscale), rel, (1e-6 * dscale) / n)).toBeNull();
      }
    }
  });

  test('dlogits match central differences of dscale * mean(loss) of the float64 forward', () => {
    const rng = mulberry32(102);
    for (const [n, c, eps] of [[3, 17, 0.1], [4, 129, 0], [1, 3, 0.3]] as const) {
      const dscale = 1.7;
      const x = randomValues(rng, n * c, -4, 4, 'f32');
      const labels = randomLabels(rng, n, c);
      const got = runSoftmax('f32', x, n, c, labels, eps, dscale);
      const objective = (v: Float64Array) => (dscale / n) * softmaxLossRef(v, n, c, labels, eps).reduce((a, b) => a + b, 0);
      const idx = Array.from({ length: 12 }, () => randInt(rng, 0, n * c - 1));
      labels.forEach((l, i) => idx.push(i * c + l)); // every label position, where q is large
      const fd = centralDifferences(objective, x, idx, 1e-4);
      expect(mismatch(idx.map((i) => got.dlogits[i]!), fd, 1e-4, (1e-5 * dscale) / n)).toBeNull();
    }
  });

  test('stable for huge logit ranges: max-subtracted, finite, and correct', () => {
    const rng = mulberry32(103);
    const [n, c] = [7, 33];
    // Spreads of +-3e4 and one row of values near the f32 maximum: a naive exp would overflow.
    const x = randomValues(rng, n * c, -3e4, 3e4, 'f32');
    for (let j = 0; j < c; j++) x[j] = Math.fround(3e38 - j * 1e32);
    const labels = randomLabels(rng, n, c);
    const got = runSoftmax('f32', x, n, c, labels, 0.1, 1);
    expect(got.loss.every(Number.isFinite)).toBe(true);
    expect(got.dlogits.every(Number.isFinite)).toBe(true);
    expect(lossViolation(got.loss, softmaxLossRef(x, n, c, labels, 0.1), rowMaxAbs(x, n, c))).toBeNull();
    expect(mismatch(got.dlogits, softmaxGradRef(x, n, c, labels, 0.1, 1), 1e-5, 1e-6 / n)).toBeNull();
  });

  test('without dlogits only the loss is written', () => {
    const rng = mulberry32(104);
    const x = randomValues(rng, 3 * 5, -2, 2, 'f32');
    const labels = Int32Array.from([4, 0, 2]);
    using logits = tensorOf(device, 'f32', [3, 5], x);
    using lab = device.tensor('i32', [3], labels);
    using loss = device.alloc('f32', [3]);
    softmaxCrossEntropy(device, logits, lab, loss);
    expect(lossViolation(loss.toFloat32(), softmaxLossRef(x, 3, 5, labels, 0), rowMaxAbs(x, 3, 5))).toBeNull();
  });
});

describe('sigmoid cross-entropy', () => {
  test.each(DTYPES)('%s: loss and dlogits against the float64 reference (naive form), with and without smoothing', (dtype) => {
    const rng = mulberry32(201);
    for (const [n, c] of SHAPES) {
      for (const eps of [0, 0.2]) {
        const dscale = 0.5 + rng() * 3;
        const x = randomValues(rng, n * c, -8, 8, dtype);
        const t = randomValues(rng, n * c, 0, 1, 'f32');
        for (let i = 0; i < t.length; i += 3) t[i] = i % 2; // some hard 0/1 targets
        const got = runSigmoid(dtype, x, t, n, c, eps, dscale);
        // The loss sums C terms: the absolute bound grows with C.
        const ref = sigmoidLossNaive(x, t, n, c, eps);
        expect(mismatch(got.loss, ref, 4e-6, 4e-6 * c)).toBeNull();
        const grad = Float64Array.from(x, (v, i) => ((1 / (1 + Math.exp(-v)) - ((1 - eps) * t[i]! + eps / 2)) * dscale) / n);
        expect(mismatch(got.dlogits, grad, dtype === 'f32' ? 1e-5 : 2 ** -8, (1e-6 * dscale) / n)).toBeNull();
      }
    }
  });

  test('dlogits match central differences of dscale * mean(loss) of the float64 forward', () => {
    const rng = mulberry32(202);
    const [n, c, eps, dscale] = [5, 17, 0.1, 2.5];
    const x = randomValues(rng, n * c, -5, 5, 'f32');
    const t = randomValues(rng, n * c, 0, 1, 'f32');
    const got = runSigmoid('f32', x, t, n, c, eps, dscale);
    const objective = (v: Float64Array) => (dscale / n) * sigmoidLossNaive(v, t, n, c, eps).reduce((a, b) => a + b, 0);
    const idx = Array.from({ length: 20 }, () => randInt(rng, 0, n * c - 1));
    expect(mismatch(idx.map((i) => got.dlogits[i]!), centralDifferences(objective, x, idx, 1e-4), 1e-4, (1e-5 * dscale) / n)).toBeNull();
  });

  test('stable for large |logits|: no overflow, and the asymptotes x (1 - t) and -x t', () => {
    const logits = [60, -60, 1e4, -1e4, 3e38, -3e38, 88.5, -104];
    const targets = [0, 1, 0.25, 0.75, 0, 1, 1, 0];
    const n = logits.length;
    const got = runSigmoid('f32', Float64Array.from(logits), Float64Array.from(targets), n, 1, 0, n);
    // log1p(exp(-|x|)) < 1e-26 at |x| >= 60: at most that much absolute error beyond f32 rounding
    // (x = 88.5 with t = 1 has the true loss 3.7e-39, a subnormal f32).
    const ref = logits.map((x, i) => Math.max(x, 0) - x * targets[i]!);
    expect(mismatch(got.loss, ref, 1e-6, 1e-26)).toBeNull();
    expect(got.loss[6]).toBeGreaterThan(0);
    // sigmoid is 0 or 1 to double precision here; dscale = n makes the gradient sigmoid - t.
    expect(mismatch(got.dlogits, logits.map((x, i) => (x > 0 ? 1 : 0) - targets[i]!), 0, 1e-7)).toBeNull();
  });
});

describe('typed errors', () => {
  function inputs(dtype: Storage = 'f32') {
    const logits = tensorOf(device, dtype, [3, 4], [1, 2, 3, 4, -1, -2, -3, -4, 0.5, 0.25, 2, 1]);
    const labels = device.tensor('i32', [3], Int32Array.from([0, 3, 1]));
    const targets = device.tensor('f32', [3, 4], new Float32Array(12).fill(0.5));
    const loss = device.tensor('f32', [3], Float32Array.from([7, 7, 7]));
    return { logits, labels, targets, loss, dispose: () => [logits, labels, targets, loss].forEach((t) => t.dispose()) };
  }

  function codeOf(fn: () => unknown): string {
    const e = thrownBy(fn);
    expect(e).toBeInstanceOf(Vit22bError);
    return (e as Vit22bError).code;
  }

  test('out-of-range labels and targets are ERR_INVALID_ARGUMENT and leave the outputs untouched', () => {
    const t = inputs();
    try {
      for (const bad of [-1, 4]) {
        t.labels.upload(Int32Array.from([0, bad, 1]));
        const e = thrownBy(() => softmaxCrossEntropy(device, t.logits, t.labels, t.loss)) as Vit22bError;
        expect(e.code).toBe('ERR_INVALID_ARGUMENT');
        expect(e.details).toMatchObject({ received: String(bad) });
        expect(Array.from(t.loss.toFloat32())).toEqual([7, 7, 7]);
      }
      for (const bad of [-0.5, 1.5, NaN]) {
        const values = new Float32Array(12).fill(0.5);
        values[7] = bad;
        t.targets.upload(values);
        expect(codeOf(() => sigmoidCrossEntropy(device, t.logits, t.targets, t.loss))).toBe('ERR_INVALID_ARGUMENT');
        expect(Array.from(t.loss.toFloat32())).toEqual([7, 7, 7]);
      }
    } finally {
      t.dispose();
    }
  });

  test('bad options, dtypes and shapes through the wrappers', () => {
    const t = inputs();
    try {
      expect(codeOf(() => softmaxCrossEntropy(device, t.logits, t.labels, t.loss, { labelSmoothing: 1.5 }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => sigmoidCrossEntropy(device, t.logits, t.targets, t.loss, { dscale: Infinity }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => softmaxCrossEntropy(device, t.logits, t.targets, t.loss))).toBe('ERR_DTYPE_MISMATCH');
      expect(codeOf(() => softmaxCrossEntropy(device, t.logits, t.labels, t.labels))).toBe('ERR_DTYPE_MISMATCH');
      using bf = device.alloc('bf16', [3, 4]);
      expect(codeOf(() => softmaxCrossEntropy(device, t.logits, t.labels, t.loss, { dlogits: bf }))).toBe('ERR_DTYPE_MISMATCH');
      using wrong = device.alloc('f32', [3, 5]);
      expect(codeOf(() => softmaxCrossEntropy(device, t.logits, t.labels, t.loss, { dlogits: wrong }))).toBe('ERR_SHAPE_MISMATCH');
      expect(codeOf(() => sigmoidCrossEntropy(device, t.logits, wrong, t.loss))).toBe('ERR_SHAPE_MISMATCH');
      using flat = device.alloc('f32', [12]);
      expect(codeOf(() => softmaxCrossEntropy(device, flat, t.labels, t.loss))).toBe('ERR_SHAPE_MISMATCH');
    } finally {
      t.dispose();
    }
  });

  test('the raw launch checks sizes, scalars, aliasing, disposal and the device', () => {
    const t = inputs();
    const base = { dtype: 'f32' as const, n: 3, c: 4, epsilon: 0, dscale: 1, logits: t.logits.buffer, labels: t.labels.buffer, loss: t.loss.buffer };
    const other = openDevice({ device: 'cpu' });
    try {
      device.native.launch('softmax_xent', base); // the baseline is valid
      const small = thrownBy(() => device.native.launch('softmax_xent', { ...base, c: 5 })) as Vit22bError;
      expect(small.code).toBe('ERR_SHAPE_MISMATCH');
      expect(small.details).toMatchObject({ expected: '>= 60 bytes (15 f32)', received: '48 bytes' });
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, epsilon: NaN }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, dscale: Infinity }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, n: -1 }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => launchUntyped(device, 'softmax_xent', { ...base, dtype: 'i32' }))).toBe('ERR_DTYPE_MISMATCH');
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, c: 0 }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, dlogits: t.logits.buffer }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => device.native.launch('sigmoid_xent', { ...base, targets: t.targets.buffer, loss: t.targets.buffer }))).toBe('ERR_INVALID_ARGUMENT');
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, n: 2 ** 40, c: 2 ** 40 }))).toBe('ERR_SHAPE_MISMATCH');
      expect(codeOf(() => launchUntyped(device, 'softmax_xent', { ...base, labels: 'x' }))).toBe('ERR_INVALID_ARGUMENT');
      using foreign = other.alloc('f32', [3]);
      expect(codeOf(() => device.native.launch('softmax_xent', { ...base, loss: foreign.buffer }))).toBe('ERR_DEVICE_MISMATCH');
      const gone = device.alloc('f32', [3]);
      gone.dispose();
      expect(codeOf(() => device.native.launch('sigmoid_xent', { ...base, targets: t.targets.buffer, loss: gone.buffer }))).toBe('ERR_DISPOSED');
    } finally {
      t.dispose();
      other.dispose();
    }
  });
});

describe('thread-count independence', () => {
  test('loss and dlogits are bitwise identical with 1 thread and the default', () => {
    const rng = mulberry32(301);
    const [n, c] = [301, 517];
    const logits = Float32Array.from(randomValues(rng, n * c, -5, 5, 'f32'));
    const labels = randomLabels(rng, n, c);
    const targets = Float32Array.from(randomValues(rng, n * c, 0, 1, 'f32'));
    const common = { dtype: 'f32', n, c, epsilon: 0.1, dscale: 3 };
    const jobs: ChildJob[] = [
      { kernel: 'softmax_xent', spec: common, buffers: { logits, labels, loss: new Float32Array(n), dlogits: new Float32Array(n * c) }, outputs: ['loss', 'dlogits'] },
      { kernel: 'sigmoid_xent', spec: common, buffers: { logits, targets, loss: new Float32Array(n), dlogits: new Float32Array(n * c) }, outputs: ['loss', 'dlogits'] },
    ];
    const one = runInChild(jobs, { VIT22B_NUM_THREADS: '1' });
    const many = runInChild(jobs, { VIT22B_NUM_THREADS: '3' });
    const dflt = runInChild(jobs, {});
    expect(one.error).toBeUndefined();
    expect(many).toEqual(one);
    expect(dflt).toEqual(one);
    // And the child's result is the right one.
    const loss = decodeOutput(one.outputs![0]![0]!, 'f32') as Float32Array;
    expect(lossViolation(loss, softmaxLossRef(Float64Array.from(logits), n, c, labels, 0.1), rowMaxAbs(Float64Array.from(logits), n, c))).toBeNull();
  });
});

