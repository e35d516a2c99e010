// Plans on the CPU (lib/runtime/plan.ts, native/exec): a hand-written plan gives the bytes of the
// same kernels launched one by one, persistent slots keep their values across runs, dynamic
// scalars equal fixed ones, the arena is counted and freed, and a run is one N-API call.
import {
  clipScale,
  napiCallCount,
  openDevice,
  Vit22bError,
  type Device,
  type DeviceTensor,
  type NativePlan,
  type PlanInstruction,
  type PlanView,
} from '../../lib';
import type { KernelSpec } from '../../lib/kernels/spec';
import { rejectionOf } from '../helpers/errors';
import { launchUntyped } from '../helpers/launch-untyped';
import { geluRef } from '../helpers/norm-reference';
import { ArenaLayout, bytesOf, planOf, slotView } from '../helpers/plan-builder';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => {
  expect(device.stats()).toEqual({ liveBuffers: 0, liveBytes: 0, reclaimedByGc: 0 });
  device.dispose();
});

function uniform(seed: number, n: number, lo: number, hi: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rng()));
}

/** Operands by name: tensors' buffers for launch(), views for a plan. */
type Operands<B> = Record<'x' | 'w' | 'bias' | 'h' | 'g' | 'labels' | 'loss' | 'dlogits', B>;

// The three kernels of a classifier head's forward and loss gradient, as launch() specs.
const N = 13, K = 24, C = 10;
function headSpecs<B>(o: Operands<B>): [['gemm', KernelSpec<'gemm', B>], ['gelu_fwd', KernelSpec<'gelu_fwd', B>], ['softmax_xent', KernelSpec<'softmax_xent', B>]] {
  return [
    ['gemm', {
      abType: 'f32', cType: 'f32', transA: false, transB: false, m: N, n: C, k: K, batch: 1,
      alpha: 1, beta: 0, a: o.x, lda: K, strideA: 0, b: o.w, ldb: C, strideB: 0, c: o.h, ldc: C,
      strideC: 0, bias: o.bias,
    }],
    ['gelu_fwd', { dtype: 'f32', form: 'tanh', rows: N, cols: C, colBegin: 0, colEnd: C, x: o.h, y: o.g }],
    ['softmax_xent', {
      dtype: 'f32', n: N, c: C, epsilon: 0.1, dscale: 1, logits: o.g, labels: o.labels, loss: o.loss,
      dlogits: o.dlogits,
    }],
  ];
}

/** Softmax cross-entropy with smoothing 0.1 of gelu(x W + b), in float64. */
function headLossReference(x: Float32Array, w: Float32Array, b: Float32Array, labels: Int32Array): number[] {
  const loss: number[] = [];
  for (let i = 0; i < N; i++) {
    const g: number[] = [];
    for (let j = 0; j < C; j++) {
      let s = b[j]!;
      for (let k = 0; k < K; k++) s += x[i * K + k]! * w[k * C + j]!;
      g.push(geluRef(s, 'tanh'));
    }
    const max = Math.max(...g);
    const lse = max + Math.log(g.reduce((a, v) => a + Math.exp(v - max), 0));
    const target = g.reduce((a, v, j) => a + (0.1 / C + (j === labels[i] ? 0.9 : 0)) * v, 0);
    loss.push(lse - target);
  }
  return loss;
}

describe('a plan runs the same kernels as launch()', () => {
  test('gemm + bias, gelu_fwd, softmax_xent with dlogits: the same bytes, run after run', async () => {
    using w = device.tensor('f32', [K, C], uniform(1, K * C, -0.5, 0.5));
    using bias = device.tensor('f32', [C], uniform(2, C, -0.2, 0.2));
    const arena = new ArenaLayout();
    const v = {
      x: arena.view(N * K * 4), labels: arena.view(N * 4), h: arena.view(N * C * 4),
      g: arena.view(N * C * 4), loss: arena.view(N * 4), dlogits: arena.view(N * C * 4),
    };
    const plan = planOf({
      arena,
      slots: [w.bytes, bias.bytes],
      streams: [headSpecs({ ...v, w: slotView(1, w.bytes), bias: slotView(2, bias.bytes) }).map(
        ([kernel, spec], i): PlanInstruction => ({ kernel, spec, note: `head ${i}` }),
      )],
      inputs: [v.x, v.labels],
      outputs: [v.loss, v.dlogits, v.h],
    });
    using loaded = device.loadPlan(plan, [w, bias]);
    expect(loaded.instructions).toBe(3);
    expect(loaded.arenaBytes).toBe(arena.bytes);

    for (const seed of [10, 11, 12]) {
      const x = uniform(seed, N * K, -2, 2);
      const rng = mulberry32(seed);
      const labels = Int32Array.from({ length: N }, () => randInt(rng, 0, C - 1));
      const [loss, dlogits, h] = await loaded.run([x, labels]);

      // The same specs through launch(), on tensors.
      using tx = device.tensor('f32', [N, K], x);
      using tl = device.tensor('i32', [N], labels);
      using th = device.alloc('f32', [N, C]);
      using tg = device.alloc('f32', [N, C]);
      using tloss = device.alloc('f32', [N]);
      using td = device.alloc('f32', [N, C]);
      const t = { x: tx, w, bias, h: th, g: tg, labels: tl, loss: tloss, dlogits: td };
      const [gemm, gelu, xent] = headSpecs({ x: t.x.buffer, w: t.w.buffer, bias: t.bias.buffer, h: t.h.buffer, g: t.g.buffer, labels: t.labels.buffer, loss: t.loss.buffer, dlogits: t.dlogits.buffer });
      device.native.launch(...gemm);
      device.native.launch(...gelu);
      device.native.launch(...xent);
      expect(bytesOf(loss!)).toEqual(bytesOf(tloss.download()));
      expect(bytesOf(dlogits!)).toEqual(bytesOf(td.download()));
      expect(bytesOf(h!)).toEqual(bytesOf(th.download()));

      // And both against float64 (f32 accumulation over K = 24 terms, then GELU and a logsumexp).
      const ref = headLossReference(x, w.download() as Float32Array, bias.download() as Float32Array, labels);
      const got = new Float32Array(loss!);
      ref.forEach((r, i) => expect(Math.abs(got[i]! - r)).toBeLessThan(1e-5 * (1 + Math.abs(r))));
    }
  });

  test('persistent slots keep their values across runs; the plan keeps them alive', async () => {
    using acc = device.tensor('f32', [4], new Float32Array([1, 2, 3, 4]));
    const arena = new ArenaLayout();
    const x = arena.view(16);
    const plan = planOf({
      arena,
      slots: [16],
      streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: 1, x, beta: 1, y: slotView(1, 16) } }]],
      inputs: [x],
      outputs: [slotView(1, 16)],
    });
    using loaded = device.loadPlan(plan, [acc]);
    let expected = [1, 2, 3, 4];
    for (let step = 1; step <= 5; step++) {
      const add = [step, -step, 0.5 * step, 10];
      expected = expected.map((e, i) => e + add[i]!);
      const [out] = await loaded.run([new Float32Array(add)]);
      expect(Array.from(new Float32Array(out!))).toEqual(expected);
    }
    expect(Array.from(acc.download())).toEqual(expected);
  });

  test('a plan with no instructions still moves its inputs to its outputs', async () => {
    const plan = planOf({ arena: 64, streams: [[]], inputs: [{ slot: 0, offset: 8, bytes: 12 }], outputs: [{ slot: 0, offset: 12, bytes: 8 }] });
    using loaded = device.loadPlan(plan);
    const [out] = await loaded.run([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])]);
    expect(Array.from(new Uint8Array(out!))).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });
});

describe('the arena', () => {
  test('is allocated at load, counted in stats like a buffer, and freed by dispose()', () => {
    const before = device.stats();
    const plan = planOf({ arena: 4096, streams: [[]] });
    const loaded = device.loadPlan(plan);
    expect(device.stats()).toEqual({ ...before, liveBuffers: before.liveBuffers + 1, liveBytes: before.liveBytes + 4096 });
    loaded.dispose();
    expect(device.stats()).toEqual(before);
    loaded.dispose(); // idempotent
    expect(loaded.disposed).toBe(true);
    expect(device.stats()).toEqual(before);
  });

  test('a disposed plan rejects run() with ERR_DISPOSED', async () => {
    const loaded = device.loadPlan(planOf({ arena: 64, streams: [[]] }));
    loaded.dispose();
    const e = await rejectionOf(loaded.run([]));
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code: 'ERR_DISPOSED' });
  });
});

describe('N-API calls', () => {
  test('run() is exactly one call into the addon, whatever the plan length', async () => {
    for (const length of [1, 50, 400]) {
      const arena = new ArenaLayout();
      const x = arena.view(64 * 4), y = arena.view(64 * 4);
      const step: PlanInstruction = { kernel: 'axpby', spec: { dtype: 'f32', n: 64, alpha: 0.5, x, beta: 1, y } };
      using loaded = device.loadPlan(planOf({ arena, streams: [Array(length).fill(step)], inputs: [x, y], outputs: [y] }));
      const inputs = [new Float32Array(64).fill(2), new Float32Array(64).fill(1)];
      const before = napiCallCount();
      const [out] = await loaded.run(inputs);
      expect(napiCallCount() - before).toBe(1);
      expect(new Float32Array(out!)[0]).toBe(1 + length);
    }
  });

  test('the counter sees every kind of entry (methods, accessors), and reading it is not one', () => {
    const a = napiCallCount();
    expect(napiCallCount()).toBe(a);
    using t = device.alloc('f32', [1]); // Device.alloc: one native alloc call
    const b = napiCallCount();
    expect(b - a).toBe(1);
    void t.disposed; // an accessor
    device.stats();
    expect(napiCallCount() - b).toBe(2);
  });
});

describe('dynamic scalars', () => {
  const n = 37;
  const fixed = { lr: 0.01, step: 3, gradScale: 0.5, weightDecay: 0.1 };

  /** AdamW state in four slot tensors, with one f32 input for the clip norm. */
  function adamwState(): [DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor] {
    return [
      device.tensor('f32', [n], uniform(20, n, -1, 1)),
      device.tensor('f32', [n], uniform(21, n, -1, 1)),
      device.tensor('f32', [n], uniform(22, n, -0.1, 0.1)),
      device.tensor('f32', [n], uniform(23, n, 0, 0.01)),
    ];
  }

  function adamwPlan(scalars: Record<string, unknown>, extra: PlanInstruction[] = [], arena: ArenaLayout | number = 64): NativePlan {
    const spec = {
      n, gradType: 'f32', param: slotView(1, 4 * n), grad: slotView(2, 4 * n), m: slotView(3, 4 * n),
      v: slotView(4, 4 * n), beta1: 0.9, beta2: 0.999, eps: 1e-8, ...scalars,
    };
    return planOf({ arena, slots: [4 * n, 4 * n, 4 * n, 4 * n], streams: [[...extra, { kernel: 'adamw', spec, note: 'update' }]], scalars: 4 });
  }

  async function runAdamw(plan: NativePlan, scalars: number[], inputs: ArrayBufferView[] = []): Promise<Uint8Array[]> {
    const state = adamwState();
    try {
      using loaded = device.loadPlan(plan, state);
      await loaded.run(inputs, scalars);
      return state.map((t) => bytesOf(t.download()));
    } finally {
      state.forEach((t) => t.dispose());
    }
  }

  test('adamw: { scalar } and { read } give the bytes of fixed values (and of launch())', async () => {
    const byFixed = await runAdamw(adamwPlan(fixed), [0, 0, 0, 0]);
    const byScalar = await runAdamw(
      adamwPlan({ lr: { scalar: 0 }, step: { scalar: 1 }, gradScale: { scalar: 2 }, weightDecay: { scalar: 3 } }),
      [fixed.lr, fixed.step, fixed.gradScale, fixed.weightDecay],
    );
    // gradScale computed on the device: clip_scale of norm 4 to maxNorm 2 is 0.5.
    const arena = new ArenaLayout();
    const norm = arena.view(4), scale = arena.view(4);
    const readPlan = adamwPlan(
      { lr: fixed.lr, step: fixed.step, weightDecay: fixed.weightDecay, gradScale: { read: scale } },
      [{ kernel: 'clip_scale', spec: { norm, maxNorm: 2, scale } }],
      arena,
    );
    const byRead = await runAdamw({ ...readPlan, inputs: [norm] }, [0, 0, 0, 0], [new Float32Array([4])]);

    const state = adamwState();
    const [param, grad, m, v] = state;
    device.native.launch('adamw', { n, gradType: 'f32', param: param.buffer, grad: grad.buffer, m: m.buffer, v: v.buffer, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...fixed });
    const byLaunch = state.map((t) => bytesOf(t.download()));
    state.forEach((t) => t.dispose());

    expect(byFixed[0]).not.toEqual(bytesOf(uniform(20, n, -1, 1))); // the update did something
    for (const other of [byScalar, byRead, byLaunch]) other.forEach((b, i) => expect(b).toEqual(byFixed[i]));
  });

  test.each([
    ['a NaN lr', [NaN, 3, 0.5, 0.1], 'lr'],
    ['an infinite lr', [Infinity, 3, 0.5, 0.1], 'lr'],
    ['a negative lr', [-1, 3, 0.5, 0.1], 'lr'],
    ['a fractional step', [0.01, 2.5, 0.5, 0.1], 'step'],
    ['step 0', [0.01, 0, 0.5, 0.1], 'step'],
  ])('%s rejects the run with ERR_INVALID_ARGUMENT before the kernel touches anything', async (_, scalars, field) => {
    const state = adamwState();
    const initial = state.map((t) => bytesOf(t.download()));
    using loaded = device.loadPlan(
      adamwPlan({ lr: { scalar: 0 }, step: { scalar: 1 }, gradScale: { scalar: 2 }, weightDecay: { scalar: 3 } }),
      state,
    );
    const e = await rejectionOf(loaded.run([], scalars));
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect((e as Error).message).toContain("stream 0, instruction 0 ('update')");
    expect((e as Error).message).toContain(`adamw ${field}`);
    state.forEach((t, i) => expect(bytesOf(t.download())).toEqual(initial[i]));
    // The device is free again, and a good run still works.
    await loaded.run([], [fixed.lr, fixed.step, fixed.gradScale, fixed.weightDecay]);
    expect(bytesOf(state[0]!.download())).not.toEqual(initial[0]);
    state.forEach((t) => t.dispose());
  });

  test('a { read } of NaN (a non-finite norm through clip_scale) rejects the run', async () => {
    const arena = new ArenaLayout();
    const norm = arena.view(4), scale = arena.view(4);
    const plan = adamwPlan(
      { lr: 0.01, step: 1, weightDecay: 0, gradScale: { read: scale } },
      [{ kernel: 'clip_scale', spec: { norm, maxNorm: 1, scale } }],
      arena,
    );
    const state = adamwState();
    using loaded = device.loadPlan({ ...plan, inputs: [norm] }, state);
    const e = await rejectionOf(loaded.run([new Float32Array([Infinity])], [0, 0, 0, 0]));
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect((e as Error).message).toMatch(/instruction 1 \('update'\).*gradScale.*read from plan memory/);
    state.forEach((t) => t.dispose());
  });

  test('adafactor: lr, decay, gradScale and weightDecay as { scalar } equal fixed values', async () => {
    const rows = 6, cols = 40;
    const values = { lr: 0.003, decay: 0.8, gradScale: 0.7, weightDecay: 0.05 };
    async function run(dynamic: boolean): Promise<Uint8Array[]> {
      const state = [
        device.tensor('f32', [rows, cols], uniform(30, rows * cols, -1, 1)), // param
        device.tensor('f32', [rows, cols], uniform(31, rows * cols, -1, 1)), // grad
        device.tensor('f32', [rows, cols], uniform(32, rows * cols, 0, 0.1)), // v
        device.tensor('bf16', [rows, cols], uniform(33, rows * cols, -0.1, 0.1)), // momentum
      ];
      const scalars = dynamic ? { lr: { scalar: 0 }, decay: { scalar: 1 }, gradScale: { scalar: 2 }, weightDecay: { scalar: 3 } } : values;
      const spec = {
        rows, cols, factored: false, gradType: 'f32', momentumType: 'bf16', param: slotView(1, state[0]!.bytes),
        grad: slotView(2, state[1]!.bytes), v: slotView(3, state[2]!.bytes), momentum: slotView(4, state[3]!.bytes),
        lrMult: 1, beta1: 0.9, eps: 1e-30, clipThreshold: 1, ...scalars,
      };
      const plan = planOf({ arena: 0, slots: state.map((t) => t.bytes), streams: [[{ kernel: 'adafactor', spec }]], scalars: dynamic ? 4 : 0 });
      using loaded = device.loadPlan(plan, state);
      await loaded.run([], dynamic ? [values.lr, values.decay, values.gradScale, values.weightDecay] : []);
      const out = state.map((t) => bytesOf(t.download()));
      state.forEach((t) => t.dispose());
      return out;
    }
    const [a, b] = [await run(false), await run(true)];
    b.forEach((bytes, i) => expect(bytes).toEqual(a[i]));
    expect(a[0]).not.toEqual(bytesOf(uniform(30, rows * cols, -1, 1)));
  });

  test('axpby: alpha and beta as { scalar }, checked per run', async () => {
    const arena = new ArenaLayout();
    const x = arena.view(12), y = arena.view(12);
    const plan = planOf({
      arena,
      streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 3, alpha: { scalar: 0 }, x, beta: { scalar: 1 }, y } }]],
      inputs: [x, y],
      outputs: [y],
      scalars: 2,
    });
    using loaded = device.loadPlan(plan);
    const [out] = await loaded.run([new Float32Array([1, 2, 3]), new Float32Array([10, 20, 30])], [2, -1]);
    expect(Array.from(new Float32Array(out!))).toEqual([-8, -16, -24]);
    const e = await rejectionOf(loaded.run([new Float32Array(3), new Float32Array(3)], [1, NaN]));
    expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', received: 'nan' });
  });

  test('launch() takes plain numbers only', () => {
    using x = device.tensor('f32', [2], new Float32Array([1, 2]));
    using y = device.tensor('f32', [2], new Float32Array([1, 2]));
    for (const alpha of [{ scalar: 0 }, { read: { slot: 0, offset: 0, bytes: 4 } }]) {
      let err: unknown;
      try {
        launchUntyped(device, 'axpby', { dtype: 'f32', n: 2, alpha, x: x.buffer, beta: 1, y: y.buffer });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'number', received: 'object' });
    }
  });
});

describe("the 'axpby' launcher", () => {
  test.each(['f32', 'bf16'] as const)('%s: launch() gives the bytes of DeviceHandle.axpby', (dtype) => {
    const n = 1031;
    const x = uniform(40, n, -3, 3), y = uniform(41, n, -3, 3);
    using x1 = device.tensor(dtype, [n], x);
    using y1 = device.tensor(dtype, [n], y);
    using y2 = device.tensor(dtype, [n], y);
    const before = bytesOf(y2.download());
    device.axpby(0.75, x1, -1.5, y1);
    device.native.launch('axpby', { dtype, n, alpha: 0.75, x: x1.buffer, beta: -1.5, y: y2.buffer });
    expect(bytesOf(y2.download())).toEqual(bytesOf(y1.download()));
    expect(bytesOf(y2.download())).not.toEqual(before);
  });

  test('x may be y itself, but may not overlap it partially', async () => {
    const same: PlanInstruction = { kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: 2, x: slotView(1, 16), beta: 1, y: slotView(1, 16) } };
    const shifted: PlanInstruction = { ...same, spec: { ...same.spec, y: slotView(1, 16, 4) } };
    using t = device.tensor('f32', [5], new Float32Array([1, 2, 3, 4, 5]));
    using loaded = device.loadPlan(planOf({ arena: 0, slots: [20], streams: [[same]] }), [t]);
    await loaded.run([]);
    expect(Array.from(t.download())).toEqual([3, 6, 9, 12, 5]);
    let err: unknown;
    try {
      device.loadPlan(planOf({ arena: 0, slots: [20], streams: [[shifted]] }), [t]);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', expected: 'y identical to x or disjoint from it' });
  });
});

describe('views and clipScale in plans', () => {
  test('clip_scale in a plan equals clipScale() through launch', async () => {
    const arena = new ArenaLayout();
    const norm = arena.view(4), scale = arena.view(4);
    using loaded = device.loadPlan(planOf({
      arena, streams: [[{ kernel: 'clip_scale', spec: { norm, maxNorm: 1.5, scale } }]], inputs: [norm], outputs: [scale],
    }));
    for (const value of [0, 1, 1.5, 3, 1e30, NaN]) {
      const [out] = await loaded.run([new Float32Array([value])]);
      using tn = device.tensor('f32', [1], new Float32Array([value]));
      using ts = device.alloc('f32', [1]);
      clipScale(device, tn, ts, 1.5);
      expect(bytesOf(out!)).toEqual(bytesOf(ts.download()));
    }
  });

  test('two views of one slot may be used together when they do not overlap', async () => {
    // x and y side by side in slot 1: y += x through views, not through separate buffers.
    using both = device.tensor('f32', [8], new Float32Array([1, 2, 3, 4, 10, 20, 30, 40]));
    const x: PlanView = slotView(1, 16, 0), y: PlanView = slotView(1, 16, 16);
    using loaded = device.loadPlan(planOf({
      arena: 0, slots: [32], streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: 1, x, beta: 1, y } }]],
    }), [both]);
    await loaded.run([]);
    expect(Array.from(both.download())).toEqual([1, 2, 3, 4, 11, 22, 33, 44]);
  });
});
