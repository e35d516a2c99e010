// Meshes of virtual cpu devices (lib/runtime/mesh.ts): plans with collectives run on every rank as
// one asynchronous call and match a float64 reference of the whole mesh; reductions are bitwise
// reproducible whatever the thread count; a rank that skips a collective, or fails, ends the run
// with a typed error naming it (never a hang), and the mesh works again afterwards.
import {
  createMesh,
  openDevice,
  Vit22bError,
  type Mesh,
  type MeshShape,
  type NativePlan,
  type PlanInstruction,
} from '../../lib';
import { uniform } from '../cases/case-kit';
import { rejectionOf, thrownBy } from '../helpers/errors';
import { ArenaLayout, planOf } from '../helpers/plan-builder';

const f32 = (xs: ArrayLike<number>) => Float32Array.from(xs);

/** Rank r's coordinates, written again from SHARDING.md (r = d * model + m). */
function coords(shape: MeshShape, r: number): { d: number; m: number } {
  return { d: Math.floor(r / shape.model), m: r % shape.model };
}
function dataGroup(shape: MeshShape, r: number): number[] {
  const { m } = coords(shape, r);
  return Array.from({ length: shape.data }, (_, d) => d * shape.model + m);
}
function modelGroup(shape: MeshShape, r: number): number[] {
  const { d } = coords(shape, r);
  return Array.from({ length: shape.model }, (_, m) => d * shape.model + m);
}

/**
 * A step of the kind a partitioned plan makes, on a 2 x 2 mesh, n elements per rank:
 *   x = 0.5 g + 1.5 x                          (axpby)
 *   x = 0.5 * sum over the data group of x     (all_reduce 'data', in place, a mean)
 *   y = block m of sum over the model group    (reduce_scatter 'model')
 *   z = y of every rank of the data group      (all_gather 'data')
 *   w = z of the previous model rank           (collective_permute 'model', shift 1)
 * Outputs y and w.
 */
function stepPlan(n: number): NativePlan {
  const arena = new ArenaLayout();
  const x = arena.view(n * 4), g = arena.view(n * 4), y = arena.view((n / 2) * 4), z = arena.view(n * 4), w = arena.view(n * 4);
  const ins: PlanInstruction[] = [
    { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 0.5, x: g, beta: 1.5, y: x }, note: 'update' },
    { kernel: 'all_reduce', spec: { axis: 'data', ranks: 2, dtype: 'f32', count: n, scale: 0.5, x, y: x }, note: 'mean over data' },
    { kernel: 'reduce_scatter', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: n / 2, x, y }, note: 'scatter over model' },
    { kernel: 'all_gather', spec: { axis: 'data', ranks: 2, dtype: 'f32', count: n / 2, x: y, y: z }, note: 'gather over data' },
    { kernel: 'collective_permute', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: n, shift: 1, x: z, y: w }, note: 'ring step' },
  ];
  return planOf({ arena, streams: [ins], inputs: [x, g], outputs: [y, w] });
}

function stepReference(shape: MeshShape, n: number, xs: Float32Array[], gs: Float32Array[]): { y: Float64Array; w: Float64Array }[] {
  const size = shape.data * shape.model;
  const a = xs.map((x, r) => Float64Array.from(x, (v, i) => 0.5 * gs[r]![i]! + 1.5 * v));
  const s = a.map((_, r) => {
    const out = new Float64Array(n);
    for (const p of dataGroup(shape, r)) for (let i = 0; i < n; i++) out[i] = out[i]! + a[p]![i]!;
    return out.map((v) => 0.5 * v);
  });
  const y = s.map((_, r) => {
    const { m } = coords(shape, r);
    const out = new Float64Array(n / 2);
    for (const p of modelGroup(shape, r)) for (let i = 0; i < n / 2; i++) out[i] = out[i]! + s[p]![m * (n / 2) + i]!;
    return out;
  });
  const z = y.map((_, r) => {
    const out = new Float64Array(n);
    dataGroup(shape, r).forEach((p, j) => out.set(y[p]!, j * (n / 2)));
    return out;
  });
  return Array.from({ length: size }, (_, r) => {
    const { m } = coords(shape, r);
    const from = modelGroup(shape, r)[(m - 1 + shape.model) % shape.model]!;
    return { y: y[r]!, w: z[from]! };
  });
}

function expectClose(got: Float32Array, want: Float64Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= 1e-5 + 1e-5 * Math.abs(want[i]!))) {
      throw new Error(`${what}[${i}]: got ${got[i]}, expected ${want[i]}`);
    }
  }
}

function inputsFor(size: number, n: number, seed: number): { xs: Float32Array[]; gs: Float32Array[] } {
  const xs = Array.from({ length: size }, (_, r) => f32(uniform(n, seed + 2 * r)));
  const gs = Array.from({ length: size }, (_, r) => f32(uniform(n, seed + 2 * r + 1)));
  return { xs, gs };
}

/** Every rank's devices hold no buffer after the test, and none was left to the GC. */
function expectClean(mesh: Mesh): void {
  for (const d of mesh.devices) expect(d.stats()).toMatchObject({ liveBuffers: 0, reclaimedByGc: 0 });
}

describe('a mesh plan run', () => {
  const shape = { data: 2, model: 2 };

  test('2x2: axpby + all_reduce + reduce_scatter + all_gather + collective_permute match float64', async () => {
    using mesh = createMesh(shape, { threadsPerDevice: 1, timeoutMs: 20_000 });
    const n = 64;
    const plan = mesh.loadPlan(stepPlan(n), [[], [], [], []]);
    const { xs, gs } = inputsFor(4, n, 100);
    const out = await plan.run(xs.map((x, r) => [x, gs[r]!]));
    const want = stepReference(shape, n, xs, gs);
    expect(out).toHaveLength(4);
    out.forEach((o, r) => {
      expectClose(new Float32Array(o[0]!), want[r]!.y, `rank ${r} y`);
      expectClose(new Float32Array(o[1]!), want[r]!.w, `rank ${r} w`);
    });
    // Runs again (a second step on the same arenas) with the same result.
    const again = await plan.run(xs.map((x, r) => [x, gs[r]!]));
    again.forEach((o, r) => o.forEach((b, i) => expect(Buffer.from(b).equals(Buffer.from(out[r]![i]!))).toBe(true)));
    plan.dispose();
    expectClean(mesh);
  });

  test('profiling names every rank, stream, instruction and kernel', async () => {
    using mesh = createMesh(shape, { threadsPerDevice: 1 });
    using plan = mesh.loadPlan(stepPlan(8), [[], [], [], []]);
    plan.setProfiling(true);
    const { xs, gs } = inputsFor(4, 8, 7);
    await plan.run(xs.map((x, r) => [x, gs[r]!]));
    const p = plan.profile();
    expect(p.runs).toBe(1);
    expect(p.entries).toHaveLength(4 * 5);
    expect(p.entries.filter((e) => e.rank === 3).map((e) => e.kernel)).toEqual(['axpby', 'all_reduce', 'reduce_scatter', 'all_gather', 'collective_permute']);
    expect(p.entries[1]).toMatchObject({ rank: 0, stream: 0, index: 1, note: 'mean over data' });
    for (const e of p.entries) expect(e.seconds).toBeGreaterThanOrEqual(0);
  });

  test('the devices are busy during the run, and the inputs are checked per rank first', async () => {
    using mesh = createMesh(shape, { threadsPerDevice: 1 });
    using plan = mesh.loadPlan(stepPlan(8), [[], [], [], []]);
    const { xs, gs } = inputsFor(4, 8, 9);
    const running = plan.run(xs.map((x, r) => [x, gs[r]!]));
    const busy = thrownBy(() => mesh.devices[2]!.loadPlan(stepPlan(8))) as Vit22bError;
    expect(busy.code).toBe('ERR_DEVICE_BUSY');
    await running;

    const wrongCount = (await rejectionOf(plan.run(xs.slice(0, 3).map((x) => [x, x])))) as Vit22bError;
    expect(wrongCount.code).toBe('ERR_INVALID_ARGUMENT');
    expect(wrongCount.message).toContain('one entry per rank of the mesh (4)');
    const badSize = (await rejectionOf(plan.run(xs.map((x, r) => (r === 2 ? [x, new Float32Array(3)] : [x, gs[r]!]))))) as Vit22bError;
    expect(badSize.code).toBe('ERR_SHAPE_MISMATCH');
    expect(badSize.message).toMatch(/^rank 2 \(data 1, model 0\): plan run inputs\[1\] has the wrong size/);
    // Nothing ran: the mesh is idle and runs normally.
    await plan.run(xs.map((x, r) => [x, gs[r]!]));
  });
});

describe('determinism', () => {
  /** all_reduce then reduce_scatter over both axes of a 2x2 mesh, n large enough for the pool's path. */
  function reductionPlan(n: number): NativePlan {
    const arena = new ArenaLayout();
    const x = arena.view(n * 4), s = arena.view(n * 4), y = arena.view((n / 2) * 4);
    return planOf({
      arena,
      streams: [
        [
          { kernel: 'all_reduce', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: n, x, y: s } },
          { kernel: 'reduce_scatter', spec: { axis: 'data', ranks: 2, dtype: 'f32', count: n / 2, x: s, y } },
        ],
      ],
      inputs: [x],
      outputs: [s, y],
    });
  }

  /** Every rank's outputs as one hex digest-like string per output (jest's deep equality on large arrays is slow). */
  const bits = (outs: ArrayBuffer[][]): string[] => outs.flatMap((o) => o.map((b) => Buffer.from(b).toString('base64')));

  async function runWith(threads: number, inputs: Float32Array[], repeats: number): Promise<string[]> {
    using mesh = createMesh({ data: 2, model: 2 }, { threadsPerDevice: threads });
    using plan = mesh.loadPlan(reductionPlan(inputs[0]!.length), [[], [], [], []]);
    const first = bits(await plan.run(inputs.map((x) => [x])));
    for (let i = 1; i < repeats; i++) {
      const again = bits(await plan.run(inputs.map((x) => [x])));
      expect(again.every((b, j) => b === first[j])).toBe(true);
    }
    return first;
  }

  test('the same mesh gives the same bits on every run and with 1 or 2 threads per device', async () => {
    const n = 40_000; // past the communicators' 16K-element blocks: the pool splits the work
    // Values of mixed magnitude, so a different summation order would change the bits.
    const inputs = Array.from({ length: 4 }, (_, r) => f32(uniform(n, 300 + r).map((v, i) => v * 10 ** ((i % 7) - 3))));
    const one = await runWith(1, inputs, 3);
    const two = await runWith(2, inputs, 3);
    expect(two.length).toBe(8);
    expect(two.every((b, j) => b === one[j])).toBe(true);
  });
});

describe('failures', () => {
  /** all_reduce over `axis` of x into y, or (skip) an axpby that never meets its peers. */
  function reduceOrSkip(n: number, ranks: number, skip: boolean, axis: 'data' | 'model' = 'model'): NativePlan {
    const arena = new ArenaLayout();
    const x = arena.view(n * 4), y = arena.view(n * 4);
    const ins: PlanInstruction = skip
      ? { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 1, x, beta: 0, y }, note: 'no collective here' }
      : { kernel: 'all_reduce', spec: { axis, ranks, dtype: 'f32', count: n, x, y }, note: 'grad sum' };
    return planOf({ arena, streams: [[ins]], inputs: [x], outputs: [y] });
  }

  async function expectGoodRun(mesh: Mesh): Promise<void> {
    const n = 16;
    using plan = mesh.loadPlan(reduceOrSkip(n, mesh.shape.model, false), mesh.devices.map(() => []));
    const xs = mesh.devices.map((_, r) => f32(uniform(n, 500 + r)));
    const out = await plan.run(xs.map((x) => [x]));
    out.forEach((o, r) => {
      const want = new Float64Array(n);
      for (const p of modelGroup(mesh.shape, r)) for (let i = 0; i < n; i++) want[i] = want[i]! + xs[p]![i]!;
      expectClose(new Float32Array(o[0]!), want, `rank ${r}`);
    });
  }

  test('a rank that skips a collective: ERR_COLLECTIVE_TIMEOUT naming the waiting rank, the axis and the missing rank', async () => {
    using mesh = createMesh({ data: 1, model: 2 }, { threadsPerDevice: 1, timeoutMs: 300 });
    using plan = mesh.loadPlan([reduceOrSkip(8, 2, false), reduceOrSkip(8, 2, true)], [[], []]);
    const started = Date.now();
    const e = (await rejectionOf(plan.run([[new Float32Array(8).fill(1)], [new Float32Array(8).fill(2)]]))) as Vit22bError;
    expect(e).toBeInstanceOf(Vit22bError);
    expect(e.code).toBe('ERR_COLLECTIVE_TIMEOUT');
    expect(e.message).toMatch(/^rank 0 \(data 0, model 0\): /);
    expect(e.message).toContain("'grad sum'"); // the instruction
    expect(e.message).toContain("all_reduce on mesh axis 'model'");
    expect(e.message).toContain('timed out after 300 ms');
    expect(e.message).toContain('run 1');
    expect(e.message).toContain('never arrived: rank 1 (data 0, model 1)');
    expect(e.received).toBe('missing ranks 1');
    expect(Date.now() - started).toBeLessThan(10_000);
    // The same mesh runs a good plan afterwards (its groups were reset).
    await expectGoodRun(mesh);
    await expectGoodRun(mesh);
  });

  test('a kernel error on rank 1: ERR_NON_FINITE naming rank 1, and the others stop instead of waiting out their deadline', async () => {
    using mesh = createMesh({ data: 2, model: 2 }, { threadsPerDevice: 1, timeoutMs: 120_000 });
    const n = 8;
    const arena = new ArenaLayout();
    const x = arena.view(n * 4), y = arena.view(n * 4);
    const plan = mesh.loadPlan(
      planOf({
        arena,
        streams: [
          [
            { kernel: 'assert_finite', spec: { n, x, what: 'loss' }, note: 'loss guard' },
            { kernel: 'all_reduce', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: n, x, y } },
            { kernel: 'all_reduce', spec: { axis: 'data', ranks: 2, dtype: 'f32', count: n, x: y, y: x } },
          ],
        ],
        inputs: [x],
        outputs: [x],
      }),
      [[], [], [], []],
    );
    try {
      const inputs = [0, 1, 2, 3].map((r) => {
        const v = f32(uniform(n, 700 + r));
        if (r === 1) v[5] = Number.NaN;
        return [v];
      });
      const started = Date.now();
      const e = (await rejectionOf(plan.run(inputs))) as Vit22bError;
      expect(e.code).toBe('ERR_NON_FINITE');
      expect(e.message).toMatch(/^rank 1 \(data 0, model 1\): /);
      expect(e.message).toContain("'loss guard'");
      expect(Date.now() - started).toBeLessThan(20_000); // far below the 120 s deadline
      // Good inputs on the same plan and mesh: all ranks agree on the sum of all four.
      inputs[1]![0]![5] = 0.25;
      const out = await plan.run(inputs);
      const want = new Float64Array(n);
      for (const [v] of inputs) for (let i = 0; i < n; i++) want[i] = want[i]! + v![i]!;
      for (const o of out) expectClose(new Float32Array(o[0]!), want, 'sum');
    } finally {
      plan.dispose();
    }
    await expectGoodRun(mesh);
  });

  test('ranks that call different collectives: ERR_INVALID_PLAN naming both', async () => {
    using mesh = createMesh({ data: 1, model: 2 }, { threadsPerDevice: 1, timeoutMs: 20_000 });
    const arena = new ArenaLayout();
    const x = arena.view(32), y = arena.view(32), h = arena.view(16);
    const gather = planOf({ arena, streams: [[{ kernel: 'all_reduce', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: 8, x, y } }]], inputs: [x] });
    const scatter = planOf({ arena, streams: [[{ kernel: 'reduce_scatter', spec: { axis: 'model', ranks: 2, dtype: 'f32', count: 4, x, y: h } }]], inputs: [x] });
    using plan = mesh.loadPlan([gather, scatter], [[], []]);
    const e = (await rejectionOf(plan.run([[new Float32Array(8)], [new Float32Array(8)]]))) as Vit22bError;
    expect(e.code).toBe('ERR_INVALID_PLAN');
    expect(e.message).toContain('collective mismatch');
    expect(e.message).toContain('all_reduce of 8 f32');
    expect(e.message).toContain('reduce_scatter of 4 f32');
    await expectGoodRun(mesh);
  });

  test('ranks that do not match the mesh, and collectives outside a mesh', () => {
    using mesh = createMesh({ data: 1, model: 2 }, { threadsPerDevice: 1 });
    const xs = mesh.devices.map((d) => d.tensor('f32', [4], new Float32Array(4).fill(1)));
    const ys = mesh.devices.map((d) => d.alloc('f32', [4]));
    try {
      const e = thrownBy(() =>
        mesh.launch('all_reduce', [0, 1].map((r) => ({ axis: 'model' as const, ranks: 4, dtype: 'f32' as const, count: 4, x: xs[r]!.buffer, y: ys[r]!.buffer }))),
      ) as Vit22bError;
      expect(e.code).toBe('ERR_INVALID_ARGUMENT');
      // Both ranks refuse; whichever does first is the error reported.
      expect(e.message).toMatch(/^rank (\d) \(data 0, model \1\): all_reduce says ranks 4, but the 'model' axis of rank \1 \(data 0, model \1\)'s mesh \(1 x 2\) has 2 devices/);
      // A collective of several devices on one device alone would wait for peers that never come.
      const alone = thrownBy(() =>
        mesh.devices[1]!.native.launch('all_reduce', { axis: 'model', ranks: 2, dtype: 'f32', count: 4, x: xs[1]!.buffer, y: ys[1]!.buffer }),
      ) as Vit22bError;
      expect(alone.code).toBe('ERR_INVALID_ARGUMENT');
      expect(alone.message).toContain("all_reduce over mesh axis 'model' (2 devices) runs only in a mesh step");
      expect(alone.message).toContain('rank 1 (data 0, model 1) was called alone');
      // One launch on every rank: the sum of all ones is 2.
      mesh.launch('all_reduce', [0, 1].map((r) => ({ axis: 'model' as const, ranks: 2, dtype: 'f32' as const, count: 4, x: xs[r]!.buffer, y: ys[r]!.buffer })));
      for (const y of ys) expect(Array.from(y.download() as Float32Array)).toEqual([2, 2, 2, 2]);
    } finally {
      for (const t of [...xs, ...ys]) t.dispose();
    }
    using device = openDevice({ device: 'cpu' });
    using x = device.tensor('f32', [4], new Float32Array(4).fill(1));
    using y = device.alloc('f32', [8]);
    const e = thrownBy(() => device.native.launch('all_gather', { axis: 'data', ranks: 2, dtype: 'f32', count: 4, x: x.buffer, y: y.buffer })) as Vit22bError;
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toContain("all_gather over mesh axis 'data' with ranks 2 needs a mesh whose 'data' axis has 2 devices");
  });

  test('bad mesh shapes and options are typed errors naming the numbers', () => {
    const cases: [MeshShape, string][] = [
      [{ data: 0, model: 2 }, 'mesh data must be an integer >= 1, got 0'],
      [{ data: 2, model: 1.5 }, 'mesh model must be an integer >= 1, got 1.5'],
      [{ data: 8, model: 16 }, 'a mesh of 8 x 16 = 128 devices is more than 64'],
    ];
    for (const [shape, message] of cases) {
      const e = thrownBy(() => createMesh(shape)) as Vit22bError;
      expect(e.code).toBe('ERR_INVALID_CONFIG');
      expect(e.message).toBe(message);
    }
    const t = thrownBy(() => createMesh({ data: 1, model: 2 }, { timeoutMs: 0 })) as Vit22bError;
    expect(t.code).toBe('ERR_INVALID_CONFIG');
    expect(t.message).toContain('timeoutMs');
    const p = thrownBy(() => createMesh({ data: 1, model: 2 }, { threadsPerDevice: -1 })) as Vit22bError;
    expect(p.code).toBe('ERR_INVALID_CONFIG');
  });
});

describe('per-device pools', () => {
  test('two devices of a mesh run GEMMs at once on their own pools, with the bits of the process pool', async () => {
    const s = 96;
    const arena = new ArenaLayout();
    const a = arena.view(s * s * 4), b = arena.view(s * s * 4), c = arena.view(s * s * 4);
    const gemm: PlanInstruction = {
      kernel: 'gemm',
      spec: { abType: 'f32', cType: 'f32', transA: false, transB: false, m: s, n: s, k: s, batch: 1, alpha: 1, beta: 1, a, lda: s, strideA: 0, b, ldb: s, strideB: 0, c, ldc: s, strideC: 0 },
    };
    const plan = planOf({ arena, streams: [Array(4).fill(gemm)], inputs: [a, b, c], outputs: [c] });
    const inputs = [0, 1].map((r) => [f32(uniform(s * s, 900 + r)), f32(uniform(s * s, 910 + r)), f32(uniform(s * s, 920 + r))]);

    using mesh = createMesh({ data: 2, model: 1 }, { threadsPerDevice: 2 });
    expect(mesh.threadsPerDevice).toBe(2);
    using meshPlan = mesh.loadPlan(plan, [[], []]);
    const out = await meshPlan.run(inputs);

    using device = openDevice({ device: 'cpu' });
    using single = device.loadPlan(plan);
    for (const r of [0, 1]) {
      const [want] = await single.run(inputs[r]!);
      expect(Buffer.from(out[r]![0]!).equals(Buffer.from(want!))).toBe(true);
    }
    expect(Buffer.from(out[0]![0]!).equals(Buffer.from(out[1]![0]!))).toBe(false);
    // Each device stays an ordinary device outside a run.
    for (const d of mesh.devices) {
      using t = d.tensor('f32', [3], f32([1, 2, 3]));
      expect(Array.from(t.download() as Float32Array)).toEqual([1, 2, 3]);
    }
    expect(mesh.coordinates(1)).toEqual({ rank: 1, data: 1, model: 0 });
  });
});

test('mesh coordinates follow rank = data * model + model', () => {
  using mesh = createMesh({ data: 2, model: 3 }, { threadsPerDevice: 1 });
  expect(mesh.size).toBe(6);
  expect(mesh.devices).toHaveLength(6);
  expect([0, 1, 2, 3, 4, 5].map((r) => mesh.coordinates(r))).toEqual([
    { rank: 0, data: 0, model: 0 },
    { rank: 1, data: 0, model: 1 },
    { rank: 2, data: 0, model: 2 },
    { rank: 3, data: 1, model: 0 },
    { rank: 4, data: 1, model: 1 },
    { rank: 5, data: 1, model: 2 },
  ]);
  expect((thrownBy(() => mesh.coordinates(6)) as Vit22bError).code).toBe('ERR_INVALID_ARGUMENT');
});
