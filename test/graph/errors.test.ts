/**
 * Bad graphs, bad inputs and bad plans get typed errors with expected/received, at the earliest
 * point that can know: shape rules at build time, input checks before a step is queued, kernel
 * checks in the executor (a rejected promise, the process and the program still usable).
 */
import { openDevice, Vit22bError, type Device } from '../../lib/runtime';
import { GraphBuilder } from '../../lib/graph/builder';
import { compile } from '../../lib/graph/compile';
import { mlp } from '../helpers/graph-models';
import { rejectionOf, thrownBy } from '../helpers/errors';
import { normals } from '../helpers/graph-harness';
import { mulberry32 } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

function expectTyped(e: unknown, code: string, expected?: RegExp, received?: RegExp): void {
  expect(e).toBeInstanceOf(Vit22bError);
  const err = e as Vit22bError;
  expect(err.code).toBe(code);
  if (expected) expect(err.expected).toMatch(expected);
  if (received) expect(err.received).toMatch(received);
}

describe('shape rules at build time', () => {
  test('matmul inner dimensions', () => {
    const b = new GraphBuilder();
    const e = thrownBy(() => b.matmul(b.param('a', [3, 4]), b.param('w', [5, 6])));
    expectTyped(e, 'ERR_SHAPE_MISMATCH', /K = 4/, /4 and 5/);
  });
  test('attention heads must divide the width', () => {
    const b = new GraphBuilder();
    const q = b.param('q', [1, 2, 6]);
    expectTyped(thrownBy(() => b.attention(q, q, q, { heads: 4 })), 'ERR_SHAPE_MISMATCH', /divisor of 6/, /^4$/);
  });
  test('bias of the wrong length, labels of the wrong dtype, patch not dividing the image', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    expectTyped(thrownBy(() => b.biasAdd(x, b.param('bias', [4]))), 'ERR_SHAPE_MISMATCH', /\[3\]/, /\[4\]/);
    expectTyped(thrownBy(() => b.softmaxCrossEntropy(x, b.input('y', [2]))), 'ERR_DTYPE_MISMATCH', /i32/, /f32/);
    expectTyped(thrownBy(() => b.patchify(b.input('img', [1, 5, 4, 3]), 2)), 'ERR_SHAPE_MISMATCH', /multiples of 2/, /\[1, 5, 4, 3\]/);
  });
  test('unknown ops and duplicate names', () => {
    const b = new GraphBuilder();
    expectTyped(thrownBy(() => b.graph.apply('conv3d', [])), 'ERR_INVALID_ARGUMENT', /matmul/, /conv3d/);
    b.param('w', [1]);
    expectTyped(thrownBy(() => b.param('w', [1])), 'ERR_INVALID_ARGUMENT', /new name/, /"w"/);
  });
});

describe('compile-time errors', () => {
  test('no such loss output; a non-scalar loss; a non-differentiable op on the path', () => {
    const train = (loss: string) => ({ loss, optimizer: { kind: 'adamw' as const } });
    const b1 = new GraphBuilder();
    b1.output('out', b1.gelu(b1.param('x', [2])));
    expectTyped(thrownBy(() => compile(b1.graph, { device, train: train('loss') })), 'ERR_INVALID_ARGUMENT', /out/, /loss/);
    const b2 = new GraphBuilder();
    b2.output('loss', b2.gelu(b2.param('x', [2])));
    expectTyped(thrownBy(() => compile(b2.graph, { device, train: train('loss') })), 'ERR_SHAPE_MISMATCH', /\[\]/, /\[2\]/);
    const b3 = new GraphBuilder();
    const s = b3.graph.apply('global_norm', [b3.param('x', [3])]);
    b3.output('loss', s);
    expectTyped(thrownBy(() => compile(b3.graph, { device, train: train('loss') })), 'ERR_NOT_IMPLEMENTED', undefined, /global_norm/);
  });
});

describe('run-time input checks', () => {
  const o = { batch: 4, features: 3, hidden: 5, classes: 2, depth: 1 };
  const train = { loss: 'loss', optimizer: { kind: 'adamw' as const } };
  const good = () => ({ x: normals(mulberry32(1), 12), labels: new Int32Array([0, 1, 1, 0]) });

  test('missing, unknown, mistyped and mis-sized inputs; missing scalars', async () => {
    const b = new GraphBuilder();
    mlp(b, o);
    using p = compile(b.graph, { device, train });
    expectTyped(await rejectionOf(p.run({ x: good().x }, { lr: 1, step: 1 })), 'ERR_INVALID_ARGUMENT', /x, labels/, /^x$/);
    expectTyped(await rejectionOf(p.run({ ...good(), z: new Float32Array(1) }, { lr: 1, step: 1 })), 'ERR_INVALID_ARGUMENT', undefined, /^z$/);
    expectTyped(await rejectionOf(p.run({ ...good(), labels: new Float32Array(4) }, { lr: 1, step: 1 })), 'ERR_DTYPE_MISMATCH', /Int32Array/, /Float32Array/);
    expectTyped(await rejectionOf(p.run({ ...good(), x: new Float32Array(11) }, { lr: 1, step: 1 })), 'ERR_SHAPE_MISMATCH', /12 elements/, /11 elements/);
    expectTyped(await rejectionOf(p.run(good(), { step: 1 })), 'ERR_INVALID_ARGUMENT', /finite/, /undefined/);
    const other = { x: { data: new Float32Array(6), shape: [2, 3] }, labels: { data: new Int32Array(2), shape: [2] } };
    expectTyped(await rejectionOf(p.run(other, { lr: 1, step: 1 })), 'ERR_SHAPE_MISMATCH');
    // Still usable after every rejection.
    const out = await p.run(good(), { lr: 1e-3, step: 1 });
    expect(Number.isFinite((out.loss as Float32Array)[0])).toBe(true);
  });

  test('a label out of range fails inside the step: a typed rejection, and the program survives', async () => {
    const b = new GraphBuilder();
    mlp(b, o);
    using p = compile(b.graph, { device, train });
    const bad = { ...good(), labels: new Int32Array([0, 1, 7, 0]) };
    const e = await rejectionOf(p.run(bad, { lr: 1e-3, step: 1 }));
    expectTyped(e, 'ERR_INVALID_ARGUMENT');
    expect((e as Error).message).toMatch(/softmax_xent/);
    const out = await p.run(good(), { lr: 1e-3, step: 1 });
    expect(Number.isFinite((out.loss as Float32Array)[0])).toBe(true);
  });

  test('a non-finite learning rate is refused', async () => {
    const b = new GraphBuilder();
    mlp(b, o);
    using p = compile(b.graph, { device, train });
    expectTyped(await rejectionOf(p.run(good(), { lr: NaN, step: 1 })), 'ERR_INVALID_ARGUMENT');
  });

  test('reading an unknown buffer, or a disposed program; dispose returns every byte', () => {
    const b = new GraphBuilder();
    mlp(b, o);
    const before = device.stats();
    const p = compile(b.graph, { device, train });
    expect(device.stats().liveBytes).toBeGreaterThan(before.liveBytes);
    expectTyped(thrownBy(() => p.read('nope')), 'ERR_INVALID_ARGUMENT', /layer0\/w/, /nope/);
    p.dispose();
    expectTyped(thrownBy(() => p.read('layer0/w')), 'ERR_DISPOSED');
    expect(device.stats()).toEqual(before);
  });
});

describe('malformed lowered plans are refused by the executor', () => {
  test('a view moved past the arena, an unknown kernel, a missing operand: ERR_INVALID_PLAN or the kernel code, naming the node', () => {
    const b = new GraphBuilder();
    mlp(b, { batch: 4, features: 3, hidden: 5, classes: 2, depth: 1 });
    using p = compile(b.graph, { device, train: { loss: 'loss', optimizer: { kind: 'adamw' } } });
    const plan = p.main.lowered.plan;
    const tensors = p.slotTensors(p.main);
    const tamper = (edit: (copy: typeof plan) => void) => {
      const copy = JSON.parse(JSON.stringify(plan)) as typeof plan;
      edit(copy);
      return thrownBy(() => device.loadPlan(copy, tensors));
    };
    const past = tamper((c) => {
      const gemm = c.streams[0]!.find((i) => i.kernel === 'gemm')!;
      (gemm.spec.c as { offset: number }).offset = c.arenaBytes;
    });
    expectTyped(past, 'ERR_INVALID_PLAN');
    expect((past as Error).message).toMatch(/#\d+ (matmul|linear)/);
    expectTyped(tamper((c) => void (c.streams[0]![0]!.kernel = 'no_such_kernel')), 'ERR_INVALID_PLAN', undefined, /no_such_kernel/);
    const missing = tamper((c) => {
      const ln = c.streams[0]!.find((i) => i.kernel === 'softmax_xent')!;
      delete ln.spec.logits;
    });
    expect(missing).toBeInstanceOf(Vit22bError);
    expect((missing as Error).message).toMatch(/softmax_xent/);
    // The real plan still loads and runs.
    expect(() => device.loadPlan(plan, tensors).dispose()).not.toThrow();
  });
});
