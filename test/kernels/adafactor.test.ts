// Adafactor (native/cpu/adafactor.cc, big_vision's variant) through adafactor, adafactorLayout and
// adafactorDecay: what the kernel table (test/cases/adafactor.ts) cannot say. One step against the
// float64 reference, factored and unfactored, f32 and bf16 gradients and momentum, update clipping,
// and the rank-1 known answer (u = sign(g)) are cases there (this file's former per-step bounds in
// abs + rel form). Here: the layout and decay schedule, a five-step trajectory of a factored and an
// unfactored parameter through the wrapper against a float64 reference of the formula written out in
// native/cpu/adafactor.cc, implemented independently here:
//   s = (scale g)^2 + eps; factored: vr = d vr + (1-d) rowmean(s), vc = d vc + (1-d) colmean(s),
//   v_hat = outer(vr, vc) / mean(vr); unfactored: v_hat = v = d v + (1-d) s;
//   u = scale g / sqrt(v_hat), optionally / max(1, rms(u) / clip); m = b1 m + (1-b1) u;
//   param -= lr (lrMult m + wd param);
// typed errors, and thread-count independence in child processes.
import { adafactor, adafactorDecay, adafactorLayout, openDevice, type Device, type DeviceTensor } from '../../lib';
import { decodeBf16 } from '../helpers/float-reference';
import { thrownBy } from '../helpers/errors';
import { runLaunchChild } from '../helpers/launch-child';
import { mulberry32, randomBf16BitsArray, randomF32Array, type Rng } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
  device.dispose();
});

const f = Math.fround;
type GradType = 'f32' | 'bf16';

interface Host {
  rows: number;
  cols: number;
  factored: boolean;
  param: Float64Array;
  grad: Float64Array; // values (bf16-exact when the gradient is bf16)
  m: Float64Array;
  vr: Float64Array;
  vc: Float64Array;
  v: Float64Array;
}

interface Step {
  lr: number;
  lrMult: number;
  weightDecay: number;
  beta1: number;
  decay: number;
  eps: number;
  gradScale: number;
  clipThreshold: number;
}

function randomGrad(rng: Rng, n: number, type: GradType): Float64Array {
  const raw = type === 'f32' ? randomF32Array(rng, n, -10, 0) : randomBf16BitsArray(rng, n, -10, 0);
  return Float64Array.from(raw, (x) => (type === 'f32' ? x : decodeBf16(x)));
}

/** One step in float64; returns the new state and the per-element error bounds. */
function referenceStep(h: Host, s: Step): { next: Host; u: Float64Array } {
  const { rows, cols } = h;
  const n = rows * cols;
  const [lr, lrMult, wd, b1, d, eps, scale, clip] = [s.lr, s.lrMult, s.weightDecay, s.beta1, s.decay, s.eps, s.gradScale, s.clipThreshold].map(f) as number[];
  const g = h.grad.map((x) => scale! * x);
  const sq = g.map((x) => x * x + eps!);
  const next: Host = { ...h, param: new Float64Array(n), m: new Float64Array(n), vr: h.vr.slice(), vc: h.vc.slice(), v: h.v.slice() };
  const u = new Float64Array(n);
  if (h.factored) {
    for (let i = 0; i < rows; i++) {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += sq[i * cols + j]!;
      next.vr[i] = d! * h.vr[i]! + (1 - d!) * (sum / cols);
    }
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += sq[i * cols + j]!;
      next.vc[j] = d! * h.vc[j]! + (1 - d!) * (sum / rows);
    }
    const mean = next.vr.reduce((a, b) => a + b, 0) / rows;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) u[i * cols + j] = g[i * cols + j]! / Math.sqrt((next.vr[i]! * next.vc[j]!) / mean);
    }
  } else {
    for (let k = 0; k < n; k++) {
      next.v[k] = d! * h.v[k]! + (1 - d!) * sq[k]!;
      u[k] = g[k]! / Math.sqrt(next.v[k]!);
    }
  }
  if (clip! > 0) {
    const rms = Math.sqrt(u.reduce((a, x) => a + x * x, 0) / n);
    const c = Math.max(1, rms / clip!);
    for (let k = 0; k < n; k++) u[k] = u[k]! / c;
  }
  for (let k = 0; k < n; k++) {
    next.m[k] = b1! * h.m[k]! + (1 - b1!) * u[k]!;
    next.param[k] = h.param[k]! - lr! * (lrMult! * next.m[k]! + wd! * h.param[k]!);
  }
  return { next, u };
}

interface Dev {
  param: DeviceTensor;
  grad: DeviceTensor;
  momentum: DeviceTensor;
  vr?: DeviceTensor;
  vc?: DeviceTensor;
  v?: DeviceTensor;
}

function toDevice(h: Host, gradType: GradType, momType: GradType): Dev {
  const shape = [h.rows, h.cols];
  const d: Dev = {
    param: device.tensor('f32', shape, Float32Array.from(h.param)),
    grad: device.tensor(gradType, shape, Float32Array.from(h.grad)),
    momentum: device.tensor(momType, shape, Float32Array.from(h.m)),
  };
  if (h.factored) {
    d.vr = device.tensor('f32', [h.rows], Float32Array.from(h.vr));
    d.vc = device.tensor('f32', [h.cols], Float32Array.from(h.vc));
  } else {
    d.v = device.tensor('f32', shape, Float32Array.from(h.v));
  }
  return d;
}

function fromDevice(d: Dev, h: Host): Host {
  const f64 = (t?: DeviceTensor): Float64Array => (t ? Float64Array.from(t.toFloat32()) : new Float64Array(0));
  return { ...h, param: f64(d.param), m: f64(d.momentum), vr: h.factored ? f64(d.vr) : h.vr, vc: h.factored ? f64(d.vc) : h.vc, v: h.factored ? h.v : f64(d.v) };
}

function disposeDev(d: Dev): void {
  for (const t of Object.values(d)) (t as DeviceTensor | undefined)?.dispose();
}

function initialHost(rng: Rng, rows: number, cols: number, gradType: GradType): Host {
  const n = rows * cols;
  const factored = adafactorLayout([rows, cols]).factored;
  const pos = (k: number): Float64Array => Float64Array.from(randomF32Array(rng, k, -16, -6), Math.abs);
  return {
    rows, cols, factored,
    param: Float64Array.from(randomF32Array(rng, n, -4, 1)),
    grad: randomGrad(rng, n, gradType),
    m: Float64Array.from(randomBf16BitsArray(rng, n, -8, -2), decodeBf16), // exact in bf16 and f32
    vr: factored ? pos(rows) : new Float64Array(0),
    vc: factored ? pos(cols) : new Float64Array(0),
    v: factored ? new Float64Array(0) : pos(n),
  };
}

function check(what: string, got: Float64Array, ref: Float64Array, bound: (k: number) => number): void {
  for (let k = 0; k < ref.length; k++) {
    const err = Math.abs(got[k]! - ref[k]!);
    if (!(err <= bound(k))) throw new Error(`${what}[${k}]: got ${got[k]}, reference ${ref[k]}, |error| ${err} > ${bound(k)}`);
  }
}

function stepOptions(step: number, extra: Partial<Step>): Step {
  return { lr: 1e-3, lrMult: 1, weightDecay: 0, beta1: 0.9, decay: adafactorDecay(step), eps: 1e-30, gradScale: 1, clipThreshold: 0, ...extra };
}

describe('adafactor layout and decay schedule', () => {
  test('big_vision factors matrices with both dims >= 32', () => {
    expect(adafactorLayout([32, 32])).toEqual({ rows: 32, cols: 32, factored: true });
    expect(adafactorLayout([31, 4096])).toEqual({ rows: 31, cols: 4096, factored: false });
    expect(adafactorLayout([4096])).toEqual({ rows: 1, cols: 4096, factored: false });
    expect(adafactorLayout([2, 16, 64])).toEqual({ rows: 32, cols: 64, factored: true });
    expect(adafactorLayout([])).toEqual({ rows: 1, cols: 1, factored: false });
  });
  test('decay = min(0.999, 1 - t^-0.8)', () => {
    expect(adafactorDecay(1)).toBe(0);
    expect(adafactorDecay(2)).toBeCloseTo(1 - 2 ** -0.8, 15);
    expect(adafactorDecay(10)).toBeCloseTo(0.8415106807538887, 15);
    expect(adafactorDecay(1e6)).toBe(0.999);
  });
});

describe('adafactor over several steps from one start', () => {
  test('five steps of a factored and an unfactored parameter follow the float64 trajectory', () => {
    for (const [rows, cols] of [[40, 70], [5, 33]] as const) {
      const rng = mulberry32(rows + cols);
      let ref = initialHost(rng, rows, cols, 'f32');
      const dev = toDevice(ref, 'f32', 'f32');
      const grads: Float64Array[] = [];
      try {
        for (let step = 1; step <= 5; step++) {
          const grad = step === 1 ? ref.grad : randomGrad(rng, rows * cols, 'f32');
          grads.push(grad);
          dev.grad.upload(Float32Array.from(grad));
          const s = stepOptions(step, { lr: 1e-2, weightDecay: 0.1, lrMult: 0.7 });
          adafactor(device, dev, { step, ...s });
          ref = referenceStep({ ...ref, grad }, s).next;
        }
        const got = fromDevice(dev, ref);
        // Five steps of f32 rounding in each state: a looser bound than one step's.
        check('param', got.param, ref.param, (k) => 1e-5 * Math.abs(ref.param[k]!) + 1e-7);
        check('m', got.m, ref.m, (k) => 1e-4 * Math.abs(ref.m[k]!) + 1e-6);
      } finally {
        disposeDev(dev);
      }
    }
  });
});

describe('adafactor argument errors', () => {
  test('dtypes, shapes, layouts, scalars and aliasing are typed errors', () => {
    const h = initialHost(mulberry32(3), 32, 40, 'f32');
    const d = toDevice(h, 'f32', 'bf16');
    const wrongVr = device.alloc('f32', [40]);
    const full = device.alloc('f32', [32, 40]);
    try {
      const base = { step: 1, lr: 1e-3 };
      expect(thrownBy(() => adafactor(device, { ...d, vr: wrongVr }, base))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[32]', received: '[40]' });
      expect(thrownBy(() => adafactor(device, { ...d, v: full }, base))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adafactor(device, { ...d, momentum: d.vr! }, base))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
      expect(thrownBy(() => adafactor(device, { ...d, grad: d.momentum }, base))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adafactor(device, { ...d, param: d.momentum }, base))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      expect(thrownBy(() => adafactor(device, d, { ...base, decay: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'a number in [0, 1)' });
      expect(thrownBy(() => adafactor(device, d, { ...base, eps: 0 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adafactor(device, d, { ...base, step: 0 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      // With minDimToFactor 64 the [32, 40] parameter is unfactored and needs v, which is missing.
      expect(thrownBy(() => adafactor(device, d, { ...base, minDimToFactor: 64 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'DeviceTensor' });
    } finally {
      disposeDev(d);
      wrongVr.dispose();
      full.dispose();
    }
  });

  test('the raw launcher checks sizes, overflow, aliasing, devices and disposal', () => {
    const h = initialHost(mulberry32(4), 32, 40, 'f32');
    const d = toDevice(h, 'f32', 'bf16');
    const raw = (patch: Record<string, unknown>): unknown =>
      thrownBy(() =>
        device.native.launch('adafactor', {
          rows: 32, cols: 40, factored: true, gradType: 'f32', momentumType: 'bf16',
          param: d.param.buffer, grad: d.grad.buffer, momentum: d.momentum.buffer, vr: d.vr!.buffer, vc: d.vc!.buffer,
          lr: 1e-3, lrMult: 1, weightDecay: 0, beta1: 0.9, decay: 0.5, eps: 1e-30, gradScale: 1, clipThreshold: 0, ...patch,
        }),
      );
    try {
      expect(raw({ rows: 33 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 5280 bytes (1320 f32)', received: '5120 bytes' });
      expect(raw({ rows: 2 ** 40, cols: 2 ** 40 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
      expect(raw({ momentumType: 'f32' })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 5120 bytes (1280 f32)', received: '2560 bytes' });
      expect(raw({ vc: d.vr!.buffer })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 160 bytes (40 f32)' });
      expect(raw({ factored: false })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ v: d.param.buffer })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ momentum: d.grad.buffer, momentumType: 'f32' })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'distinct buffers' });
      expect(raw({ gradType: 'u8' })).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      expect(raw({ eps: 0 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ lr: -1 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ clipThreshold: NaN })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      const other = openDevice({ device: 'cpu' });
      const foreign = other.native.alloc(1 << 16);
      expect(raw({ param: foreign })).toMatchObject({ code: 'ERR_DEVICE_MISMATCH' });
      foreign.dispose();
      other.dispose();
      expect(raw({ param: foreign })).toMatchObject({ code: 'ERR_DISPOSED' });
    } finally {
      disposeDev(d);
    }
  });
});

describe('in a child process', () => {
  test('results are bitwise identical with 1, 3 and the default number of threads', () => {
    const rng = mulberry32(99);
    const jobs = [
      { rows: 531, cols: 301, factored: true, clipThreshold: 0.5 },
      { rows: 300, cols: 77, factored: true, clipThreshold: 0 },
      { rows: 20, cols: 3001, factored: false, clipThreshold: 0.5 },
    ].map((j) => {
      const n = j.rows * j.cols;
      const buffers: Record<string, ArrayBufferView> = {
        param: randomF32Array(rng, n, -4, 1),
        grad: randomBf16BitsArray(rng, n, -10, 0),
        momentum: randomBf16BitsArray(rng, n, -8, -2),
      };
      const pos = (k: number): Float32Array => randomF32Array(rng, k, -16, -6).map(Math.abs);
      if (j.factored) {
        buffers.vr = pos(j.rows);
        buffers.vc = pos(j.cols);
      } else {
        buffers.v = pos(n);
      }
      return {
        kernel: 'adafactor',
        spec: { ...j, gradType: 'bf16', momentumType: 'bf16', lr: 1e-3, lrMult: 1, weightDecay: 0.03, beta1: 0.9, decay: 0.7, eps: 1e-30, gradScale: 0.9 },
        buffers,
      };
    });
    const reference = runLaunchChild(jobs, {});
    for (const threads of ['1', '3']) expect(runLaunchChild(jobs, { VIT22B_NUM_THREADS: threads })).toEqual(reference);
    expect(reference[0]!.param).not.toEqual(Buffer.from((jobs[0]!.buffers.param as Float32Array).buffer).toString('base64'));
  });
});
