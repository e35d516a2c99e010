/**
 * The norm of a feature-split stream (passes/partition.ts splitNorm: row_moments -> all_reduce over
 * model -> norm_apply of the local columns) against the same model unsharded, where the norm is the
 * fused layer_norm kernel. The model: h = x @ w1 (w1 split on its rows over model, so h arrives
 * reduce-scattered onto feature slices [B, T, D/k]), y = LayerNorm(h) with bias or RMSNorm(h),
 * z = y @ w2 (w2 split on its columns: y's slices are gathered into the matmul), mean over tokens,
 * softmax cross-entropy. On meshes 1x2, 2x2 and 1x4, with overlap none and ring: the normalized y
 * (a program output, gathered on the device), the loss and every parameter gradient (scale, bias,
 * w1: the gradient through the norm's input, w2) equal the unsharded ones.
 *
 * Tolerances (fp32): the sharded run sums the moments in another order (double per slice, then the
 * f32 all-reduce) and takes the variance from raw moments, not from a centred pass: rows here have
 * |mean| <~ std, so y agrees to 1e-5 of its scale, the loss to 1e-5 relative, gradients to 1e-4 of
 * each tensor's largest element (mesh-training.test.ts's bound). bf16-mixed (2x2): activations
 * rounded to 8 bits, 3e-2 of each tensor's scale.
 */
import { compile, type CompileOptions } from '../../lib/graph/compile';
import type { GraphBuilder } from '../../lib/graph/builder';
import type { Program } from '../../lib/graph/program';
import type { MeshShape } from '../../lib/graph/sharding';
import type { Shape } from '../../lib/graph/types';
import { openDevice, type Device } from '../../lib/runtime';
import { normals } from '../helpers/graph-harness';
import { mulberry32, randInt } from '../helpers/prng';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

const DIMS = { B: 4, T: 3, K: 8, D: 16, C: 8 };
const { B, T, K, C } = DIMS;

type NormKind = 'layer' | 'rms';

function model(kind: NormKind, D: number) {
  return (b: GraphBuilder, shapes: Record<string, Shape>) => {
    const x = b.input('x', shapes.x!);
    const labels = b.input('labels', shapes.labels!, 'i32');
    const w1 = b.param('w1', [K, D], { sharding: ['model', null] });
    const w2 = b.param('w2', [D, C], { sharding: [null, 'model'] });
    const scale = b.param('norm/scale', [D]);
    const dt = b.computeDType;
    const h = b.matmul(b.cast(x, dt), b.cast(w1, dt));
    const y = kind === 'layer' ? b.layerNorm(h, b.cast(scale, dt), b.cast(b.param('norm/bias', [D]), dt)) : b.rmsNorm(h, b.cast(scale, dt));
    b.output('normed', b.cast(y, 'f32'));
    const z = b.matmul(y, b.cast(w2, dt));
    b.output('loss', b.softmaxCrossEntropy(b.cast(b.meanPool(z), 'f32'), labels));
  };
}

interface Run {
  loss: number;
  normed: Float32Array;
  grads: Map<string, Float32Array>;
  ops: Set<string>;
  /** How norm/scale is stored (its layout on the mesh; absent unsharded). */
  scaleDims?: unknown;
  ring?: { scatter: number; gather: number };
}

const rng = mulberry32(17);
// Rows with a mean of about the spread: the raw-moment variance stays well conditioned, as a
// residual stream's rows are.
const inputs = { x: normals(rng, B * T * K), labels: Int32Array.from({ length: B }, () => randInt(rng, 0, C - 1)) };
function paramsFor(D: number): Map<string, Float32Array> {
  const r = mulberry32(5);
  return new Map<string, Float32Array>([
    ['w1', normals(r, K * D, 0.5).map((v, i) => v + (i % D < D / 2 ? 0.3 : -0.1))],
    ['w2', normals(r, D * C, 0.5)],
    ['norm/scale', normals(r, D, 0.3).map((v) => v + 1)],
    ['norm/bias', normals(r, D, 0.3)],
  ]);
}

async function run(kind: NormKind, mesh: MeshShape | undefined, precision: 'fp32' | 'bf16-mixed', extra: Partial<CompileOptions> = {}, dims = DIMS): Promise<Run> {
  const params = paramsFor(dims.D);
  using p: Program = compile(model(kind, dims.D), {
    device,
    ...(mesh ? { mesh } : {}),
    ...extra,
    precision,
    inputShapes: { x: [B, T, K], labels: [B] },
    train: { loss: 'loss', optimizer: { kind: 'none' }, checkFinite: false },
  });
  for (const n of p.parameterNames()) p.write(n, params.get(n)!);
  const out = await p.run(inputs, { lr: 0, step: 1 });
  const grads = new Map(p.parameterNames().map((n) => [n, p.read(`grad/${n}`) as Float32Array]));
  const ring = p.main.ring;
  return {
    loss: (out.loss as Float32Array)[0]!,
    normed: out.normed as Float32Array,
    grads,
    ops: new Set(p.main.graph.nodes.map((n) => n.op)),
    scaleDims: p.main.memory.persistent.find((b) => b.name === 'norm/scale')?.layout?.dims,
    ...(ring ? { ring: { scatter: ring.scatter, gather: ring.gather } } : {}),
  };
}

function expectTensorClose(name: string, got: Float32Array, want: Float32Array, tol: number): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; ++i) {
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  // Not vacuous: every compared tensor carries signal.
  expect(scale).toBeGreaterThan(1e-3);
  if (!(worst <= tol * scale)) throw new Error(`${name}: max |sharded - unsharded| = ${worst} > ${tol} x ${scale}`);
}

function expectRunClose(got: Run, want: Run, tol: { loss: number; y: number; grad: number }): void {
  expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(tol.loss * Math.abs(want.loss));
  expectTensorClose('normed', got.normed, want.normed, tol.y);
  expect([...got.grads.keys()].sort()).toEqual([...want.grads.keys()].sort());
  for (const [n, g] of want.grads) expectTensorClose(`grad/${n}`, got.grads.get(n)!, g, tol.grad);
}

const FP32 = { loss: 1e-5, y: 1e-5, grad: 1e-4 };

describe.each(['layer', 'rms'] as const)('%s norm', (kind) => {
  let reference: Run;
  beforeAll(async () => {
    reference = await run(kind, undefined, 'fp32');
  });

  test('unsharded: the fused layer_norm, no split-norm ops', () => {
    expect(reference.ops.has('layer_norm')).toBe(true);
    expect(reference.ops.has('norm_apply') || reference.ops.has('row_moments')).toBe(false);
  });

  test.each([
    { data: 1, model: 2 },
    { data: 2, model: 2 },
    { data: 1, model: 4 },
  ])('mesh $data x $model: forward and gradients equal the unsharded norm', async (mesh) => {
    const got = await run(kind, mesh, 'fp32');
    // The split norm ran (and its backward), not the fused one on gathered rows.
    for (const op of ['row_moments', 'norm_apply', 'norm_apply_grad', 'row_moments_grad']) expect(got.ops.has(op)).toBe(true);
    expect(got.ops.has('layer_norm')).toBe(false);
    expectRunClose(got, reference, FP32);
  });

  test.each([
    { mesh: { data: 1, model: 4 }, overlap: 'ring' as const },
    { mesh: { data: 2, model: 2 }, overlap: 'bidirectional' as const },
  ])('mesh $mesh.data x $mesh.model, overlap $overlap: the gather of the normalized slices is a ring', async ({ mesh, overlap }) => {
    const got = await run(kind, mesh, 'fp32', { overlap });
    // gather: y's slices into y @ w2 (forward); scatter: x @ w1 onto h's slices (forward) and
    // dz @ w2^T onto the norm's slices (backward, then norm_apply_grad). (x is an input: no dx.)
    expect(got.ring).toEqual({ scatter: 2, gather: 1 });
    expectRunClose(got, reference, FP32);
  });
});

test('ZeRO-3 on 2x2 with a norm wide enough for its scale and bias to be sharded over data too', async () => {
  // D = 1024: scale and bias reach ZERO3_MIN_ELEMENTS, so each is stored split over data, gathered
  // over data, then sliced over model for the split norm.
  const wide = { ...DIMS, D: 1024 };
  const want = await run('layer', undefined, 'fp32', {}, wide);
  const got = await run('layer', { data: 2, model: 2 }, 'fp32', { zero: 3, overlap: 'ring' }, wide);
  expect(got.ops.has('norm_apply')).toBe(true);
  expect(got.scaleDims).toEqual([{ axis: 'data' }]);
  expectRunClose(got, want, FP32);
});

test('bf16-mixed on 2x2, overlap ring: the split norm equals the unsharded bf16-mixed run', async () => {
  const want = await run('layer', undefined, 'bf16-mixed');
  const got = await run('layer', { data: 2, model: 2 }, 'bf16-mixed', { overlap: 'ring' });
  expect(got.ops.has('norm_apply')).toBe(true);
  expectRunClose(got, want, { loss: 1e-2, y: 3e-2, grad: 3e-2 });
});
