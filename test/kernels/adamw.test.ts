// AdamW (native/cpu/adamw.cc) through adamw and adamwMulti: what the kernel table
// (test/cases/adamw.ts, adamw_multi.ts) cannot say. One step from a random state against the
// float64 reference, f32 and bf16 gradients, sizes 1 to 70001, early and late steps (step 10000,
// lr 0.5, no weight decay) and lists of tensors are cases there (this file's bounds, below, in
// abs + rel form). Here: adamw building the right spec (four steps, each checked from the kernel's
// own state of the step before, against a float64 reference of torch.optim.AdamW's formula written
// here), adamwMulti bitwise equal to one adamw call per tensor and an empty list, typed errors, and,
// in child processes, thread-count independence and every ISA path.
// Tolerance (f32 arithmetic, u = 2^-24 unit roundoff, g the scaled gradient):
// |m - ref| <= 6u (beta1 |m| + (1 - beta1) |g|), |v - ref| <= 6u (beta2 v + (1 - beta2) g^2),
// |param - ref| <= 12u (|param| + |step|) with step = lr m_hat / denominator.
// bf16 gradients are exact in f32, so the same bounds hold.
import { adamw, adamwMulti, openDevice, Vit22bError, type AdamwOptions, type Device, type DeviceTensor } from '../../lib';
import { decodeBf16 } from '../helpers/float-reference';
import { thrownBy } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
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

const U = 2 ** -24;
const f = Math.fround;

interface HostState {
  param: Float32Array;
  grad: Float32Array | Uint16Array; // f32 values or bf16 bits
  m: Float32Array;
  v: Float32Array;
}

function randomState(rng: Rng, n: number, gradType: 'f32' | 'bf16'): HostState {
  const v = randomF32Array(rng, n, -20, 0).map(Math.abs);
  return {
    param: randomF32Array(rng, n, -6, 1),
    grad: gradType === 'f32' ? randomF32Array(rng, n, -12, 1) : randomBf16BitsArray(rng, n, -12, 1),
    m: randomF32Array(rng, n, -14, 0),
    v,
  };
}

function gradValue(g: Float32Array | Uint16Array, i: number): number {
  return g instanceof Uint16Array ? decodeBf16(g[i]!) : g[i]!;
}

/** One step in float64 from `s`; the scalars are the f32 values the kernel receives. */
function referenceStep(s: HostState, o: Required<AdamwOptions>): { param: Float64Array; m: Float64Array; v: Float64Array; bound: Float64Array[] } {
  const n = s.param.length;
  const [lr, b1, b2, eps, wd, scale] = [o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.gradScale].map(f) as number[];
  const bc1 = 1 - b1! ** o.step;
  const bc2 = 1 - b2! ** o.step;
  const param = new Float64Array(n), m = new Float64Array(n), v = new Float64Array(n);
  const bm = new Float64Array(n), bv = new Float64Array(n), bp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = scale! * gradValue(s.grad, i);
    m[i] = b1! * s.m[i]! + (1 - b1!) * g;
    v[i] = b2! * s.v[i]! + (1 - b2!) * g * g;
    const step = (lr! / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps!));
    const decayed = s.param[i]! * (1 - lr! * wd!);
    param[i] = decayed - step;
    bm[i] = 6 * U * (b1! * Math.abs(s.m[i]!) + (1 - b1!) * Math.abs(g));
    bv[i] = 6 * U * (b2! * s.v[i]! + (1 - b2!) * g * g);
    bp[i] = 12 * U * (Math.abs(decayed) + Math.abs(step));
  }
  return { param, m, v, bound: [bp, bm, bv] };
}

function firstBad(got: Float32Array, ref: Float64Array, bound: Float64Array, what: string): string | null {
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= bound[i]!)) return `${what}[${i}]: got ${got[i]}, reference ${ref[i]}, |error| ${err} > ${bound[i]}`;
  }
  return null;
}

interface DeviceState {
  param: DeviceTensor;
  grad: DeviceTensor;
  m: DeviceTensor;
  v: DeviceTensor;
}

function upload(s: HostState, gradType: 'f32' | 'bf16'): DeviceState {
  const n = s.param.length;
  return {
    param: device.tensor('f32', [n], s.param),
    grad: device.tensor(gradType, [n], s.grad),
    m: device.tensor('f32', [n], s.m),
    v: device.tensor('f32', [n], s.v),
  };
}

function download(d: DeviceState, grad: HostState['grad']): HostState {
  return { param: d.param.download() as Float32Array, grad, m: d.m.download() as Float32Array, v: d.v.download() as Float32Array };
}

function disposeAll(d: DeviceState): void {
  for (const t of Object.values(d)) t.dispose();
}

function fullOptions(o: AdamwOptions): Required<AdamwOptions> {
  return { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradScale: 1, ...o };
}

/** Runs `steps` steps with fresh random gradients, checking each against the reference. */
function checkSteps(n: number, gradType: 'f32' | 'bf16', seed: number, base: Omit<AdamwOptions, 'step'>, steps: number): void {
  const rng = mulberry32(seed);
  let host = randomState(rng, n, gradType);
  const dev = upload(host, gradType);
  try {
    for (let step = 1; step <= steps; step++) {
      const opts = fullOptions({ ...base, step });
      const ref = referenceStep(host, opts);
      adamw(device, dev, opts);
      const got = download(dev, host.grad);
      expect(firstBad(got.m, ref.m, ref.bound[1]!, 'm')).toBeNull();
      expect(firstBad(got.v, ref.v, ref.bound[2]!, 'v')).toBeNull();
      expect(firstBad(got.param, ref.param, ref.bound[0]!, 'param')).toBeNull();
      // The step changed the parameters (a test that cannot fail would not notice a no-op).
      expect(got.param.some((x, i) => x !== host.param[i])).toBe(true);
      const next = randomState(rng, n, gradType).grad;
      dev.grad.upload(next);
      host = { ...got, grad: next };
    }
  } finally {
    disposeAll(dev);
  }
}

describe('adamw', () => {
  test('f32 gradients, n = 129, 4 steps, each from the kernel\'s own state', () => {
    checkSteps(129, 'f32', 129, { lr: 1e-3, weightDecay: 0.05, gradScale: 0.37 }, 4);
  });
});

describe('adamwMulti', () => {
  test('equals one adamw call per tensor, bitwise, for mixed sizes and gradient types', () => {
    const rng = mulberry32(77);
    const specs: [number, 'f32' | 'bf16'][] = [[1, 'f32'], [129, 'bf16'], [40000, 'f32'], [17, 'bf16'], [70003, 'bf16']];
    const hosts = specs.map(([n, t]) => randomState(rng, n, t));
    const multi = hosts.map((h, i) => upload(h, specs[i]![1]));
    const single = hosts.map((h, i) => upload(h, specs[i]![1]));
    try {
      const opts = { step: 3, lr: 2e-3, weightDecay: 0.03, gradScale: 0.5 };
      adamwMulti(device, multi, opts);
      for (const s of single) adamw(device, s, opts);
      multi.forEach((mt, i) => {
        for (const k of ['param', 'm', 'v'] as const) {
          const same = Buffer.from((mt[k].download() as Float32Array).buffer).equals(Buffer.from((single[i]![k].download() as Float32Array).buffer));
          expect(same).toBe(true);
        }
        // And each is correct against the reference.
        const ref = referenceStep(hosts[i]!, fullOptions(opts));
        expect(firstBad(mt.param.download() as Float32Array, ref.param, ref.bound[0]!, 'param')).toBeNull();
      });
    } finally {
      [...multi, ...single].forEach(disposeAll);
    }
  });

  test('an empty list is a no-op', () => {
    expect(() => adamwMulti(device, [], { step: 1, lr: 1 })).not.toThrow();
  });
});

describe('adamw argument errors', () => {
  function withState(fn: (d: DeviceState, extra: { f16: DeviceTensor; short: DeviceTensor; bf: DeviceTensor }) => void): void {
    const d = upload(randomState(mulberry32(1), 8, 'f32'), 'f32');
    const extra = { f16: device.alloc('i32', [8]), short: device.alloc('f32', [7]), bf: device.alloc('bf16', [8]) };
    try {
      fn(d, extra);
    } finally {
      disposeAll(d);
      for (const t of Object.values(extra)) t.dispose();
    }
  }

  test('dtypes, shapes, scalars and aliasing are typed errors', () => {
    withState((d, x) => {
      expect(thrownBy(() => adamw(device, { ...d, m: x.bf }, { step: 1, lr: 1 }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', expected: 'f32', received: 'bf16' });
      expect(thrownBy(() => adamw(device, { ...d, grad: x.f16 }, { step: 1, lr: 1 }))).toMatchObject({ code: 'ERR_DTYPE_MISMATCH' });
      expect(thrownBy(() => adamw(device, { ...d, v: x.short }, { step: 1, lr: 1 }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '[8]', received: '[7]' });
      expect(thrownBy(() => adamw(device, d, { step: 0, lr: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adamw(device, d, { step: 1, lr: 1, beta2: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'a number in [0, 1)' });
      expect(thrownBy(() => adamw(device, d, { step: 1, lr: NaN }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adamw(device, d, { step: 1, lr: 1, weightDecay: -1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(thrownBy(() => adamw(device, { ...d, m: d.v }, { step: 1, lr: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'the same buffer' });
      expect(thrownBy(() => adamwMulti(device, [d, d], { step: 1, lr: 1 }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'a shared buffer' });
    });
  });

  test('the raw launcher checks sizes, scalars, devices and disposal', () => {
    withState((d) => {
      const raw = (patch: Record<string, unknown>): unknown =>
        thrownBy(() =>
          launchUntyped(device, 'adamw', {
            n: 8, gradType: 'f32', param: d.param.buffer, grad: d.grad.buffer, m: d.m.buffer, v: d.v.buffer,
            step: 1, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradScale: 1, ...patch,
          }),
        );
      expect(raw({ n: 9 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 36 bytes (9 f32)', received: '32 bytes' });
      expect(raw({ gradType: 'bf16', n: 17 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 68 bytes (17 f32)' });
      expect(raw({ n: 2 ** 53 })).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', expected: '>= 36028797018963968 bytes (9007199254740992 f32)' });
      expect(raw({ gradType: 'i32' })).toMatchObject({ code: 'ERR_DTYPE_MISMATCH', received: 'i32' });
      expect(raw({ step: 1.5 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ eps: Infinity })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(raw({ grad: d.param.buffer })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'distinct buffers' });
      expect(raw({ m: 3 })).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'BufferHandle' });
      const multi = (tensors: unknown): unknown =>
        thrownBy(() => launchUntyped(device, 'adamw_multi', { tensors, step: 1, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradScale: 1 }));
      expect(multi('x')).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      expect(multi([7])).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      const other = openDevice({ device: 'cpu' });
      const foreign = other.native.alloc(64);
      expect(raw({ v: foreign })).toMatchObject({ code: 'ERR_DEVICE_MISMATCH' });
      foreign.dispose();
      other.dispose();
      expect(raw({ v: foreign })).toMatchObject({ code: 'ERR_DISPOSED' });
    });
  });

  test('a disposed tensor is ERR_DISPOSED', () => {
    const d = upload(randomState(mulberry32(2), 4, 'f32'), 'f32');
    disposeAll(d);
    const err = thrownBy(() => adamw(device, d, { step: 1, lr: 1 }));
    expect(err).toBeInstanceOf(Vit22bError);
    expect(err).toMatchObject({ code: 'ERR_DISPOSED' });
  });
});

describe('in a child process', () => {
  test('adamw_multi gives bitwise the same result with 1, 3 and the default number of threads', () => {
    const rng = mulberry32(9);
    const a = randomState(rng, 100003, 'bf16');
    const b = randomState(rng, 65537, 'f32');
    const scalars = { step: 7, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradScale: 0.8 };
    // Two tensors: the child passes named buffers at the top level, so run one single-tensor job each.
    const jobs = [a, b].map((s, i) => ({
      kernel: 'adamw',
      spec: { ...scalars, n: s.param.length, gradType: i === 0 ? 'bf16' : 'f32' },
      buffers: { param: s.param, grad: s.grad, m: s.m, v: s.v },
    }));
    const reference = runLaunchChild(jobs, {});
    for (const threads of ['1', '3']) expect(runLaunchChild(jobs, { VIT22B_NUM_THREADS: threads })).toEqual(reference);
    const param = new Float32Array(Buffer.from(reference[0]!.param!, 'base64').buffer.slice(0));
    expect(param.some((x, i) => x !== a.param[i])).toBe(true);
  });

  test.each(['scalar', 'avx2', 'avx512'])('every ISA path is correct (VIT22B_CPU_ISA=%s)', (isa) => {
    const rng = mulberry32(10);
    const gradTypes = ['f32', 'bf16'] as const;
    const states = gradTypes.map((t) => randomState(rng, 1037, t));
    const opts = fullOptions({ step: 2, lr: 1e-2, weightDecay: 0.1, gradScale: 0.6 });
    const jobs = states.map((s, i) => ({
      kernel: 'adamw',
      spec: { ...opts, n: s.param.length, gradType: gradTypes[i] },
      buffers: { param: s.param, grad: s.grad, m: s.m, v: s.v },
    }));
    const out = runLaunchChild(jobs, { VIT22B_CPU_ISA: isa });
    states.forEach((s, i) => {
      const ref = referenceStep(s, opts);
      const f32 = (name: string): Float32Array => {
        const b = Buffer.from(out[i]![name]!, 'base64');
        return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      };
      expect(firstBad(f32('param'), ref.param, ref.bound[0]!, 'param')).toBeNull();
      expect(firstBad(f32('m'), ref.m, ref.bound[1]!, 'm')).toBeNull();
      expect(firstBad(f32('v'), ref.v, ref.bound[2]!, 'v')).toBeNull();
    });
  });
});
