// Softmax and sigmoid cross-entropy (native/cpu/softmax_xent.cc, sigmoid_xent.cc): what the kernel
// table (test/cases/softmax_xent.ts, sigmoid_xent.ts) cannot say. The float64 comparisons of every
// shape, f32 and bf16 logits, with and without smoothing and dlogits, huge logit ranges, and dlogits
// against central differences of dscale * mean(loss), are cases there (this file's bounds, below).
// Here: one correctness check of each wrapper (softmaxCrossEntropy with and without dlogits;
// sigmoidCrossEntropy at extreme logits, where a tiny positive loss must not flush to 0), bad labels
// and targets (data-dependent errors), typed errors, and thread-count independence.
// Tolerances (inputs are exact f32 / bf16 values, so only the kernel's own arithmetic counts):
//   loss (f32 out):         |err| <= 4e-6 |ref| + 4e-6 (1 + max |logit| of the row)   (f32 x - max)
//   dlogits f32:            |err| <= 1e-5 |ref| + 1e-6 |dscale / N|
import { openDevice, sigmoidCrossEntropy, softmaxCrossEntropy, Vit22bError, type Device } from '../../lib';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { mismatch, randomValues, runInChild, tensorOf, type ChildJob, type Storage, decodeOutput } from '../helpers/kernel-runs';
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

describe('softmax cross-entropy', () => {
  test('softmaxCrossEntropy: loss and dlogits with smoothing and dscale, and the loss alone without dlogits', () => {
    const rng = mulberry32(104);
    const [n, c, eps, dscale] = [3, 17, 0.1, 2.5];
    const x = randomValues(rng, n * c, -6, 6, 'f32');
    const labels = randomLabels(rng, n, c);
    const got = runSoftmax('f32', x, n, c, labels, eps, dscale);
    expect(lossViolation(got.loss, softmaxLossRef(x, n, c, labels, eps), rowMaxAbs(x, n, c))).toBeNull();
    expect(mismatch(got.dlogits, softmaxGradRef(x, n, c, labels, eps, dscale), 1e-5, (1e-6 * dscale) / n)).toBeNull();
    using logits = tensorOf(device, 'f32', [n, c], x);
    using lab = device.tensor('i32', [n], labels);
    using loss = device.alloc('f32', [n]);
    softmaxCrossEntropy(device, logits, lab, loss);
    expect(lossViolation(loss.toFloat32(), softmaxLossRef(x, n, c, labels, 0), rowMaxAbs(x, n, c))).toBeNull();
  });
});

describe('sigmoid cross-entropy', () => {
  test('sigmoidCrossEntropy at large |logits|: no overflow, the asymptotes x (1 - t) and -x t, no flush to 0', () => {
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

