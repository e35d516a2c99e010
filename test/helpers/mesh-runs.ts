/**
 * Training runs of a small ViT on a mesh (or one device) for comparing sharded steps with the
 * unsharded one: the same random weights, the same batches, 5 steps by default; what is recorded
 * (losses, gradient norms, every gradient after step 1, every parameter after the last step) and the
 * comparison with tolerances relative to each tensor's scale. Used by test/graph/mesh-training and
 * test/graph/collective-matmul.
 */
import { compile, type CompileOptions } from '../../lib/graph/compile';
import type { Program } from '../../lib/graph/program';
import type { MeshShape } from '../../lib/graph/sharding';
import type { OptimizerSpec } from '../../lib/graph/training-step';
import type { ModelConfig } from '../../lib/model';
import type { Device } from '../../lib/runtime';
import { vitModel } from '../../lib/train/vit-model';
import { normals, randomizeParams } from './graph-harness';
import { mulberry32, randInt } from './prng';

export interface MeshRun {
  losses: number[];
  gradNorms: number[];
  /** Every gradient after step 1. */
  grads: Map<string, Float32Array>;
  /** Every parameter after the last step. */
  params: Map<string, Float32Array>;
}

export interface MeshRunOptions {
  batch?: number;
  steps?: number;
  /** Called once on the compiled program before the first step (e.g. to check its plan). */
  inspect?: (p: Program) => void;
}

/** `steps` batches of 8x8x3 images with labels 0..4, the same every call. */
export function meshBatches(steps: number, batch: number): { images: Float32Array; labels: Int32Array }[] {
  const rng = mulberry32(21);
  return Array.from({ length: steps }, () => ({
    images: normals(rng, batch * 8 * 8 * 3),
    labels: Int32Array.from({ length: batch }, () => randInt(rng, 0, 4)),
  }));
}

/** Trains `config` (8x8x3 images) on `mesh` for `steps` steps at lr 1e-2 with clipping 1 and records the run. */
export async function trainOnMesh(
  device: Device,
  config: ModelConfig,
  mesh: MeshShape | undefined,
  precision: 'fp32' | 'bf16-mixed',
  optimizer: OptimizerSpec,
  extra: Partial<CompileOptions> = {},
  o: MeshRunOptions = {},
): Promise<MeshRun> {
  const batch = o.batch ?? 8;
  const steps = o.steps ?? 5;
  using p: Program = compile(vitModel(config), {
    device,
    ...(mesh ? { mesh } : {}),
    ...extra,
    precision,
    seed: 1,
    inputShapes: { images: [batch, 8, 8, 3], labels: [batch] },
    train: { loss: 'loss', optimizer, clipNorm: 1 },
  });
  o.inspect?.(p);
  randomizeParams(p, mulberry32(5), 0.2);
  const run: MeshRun = { losses: [], gradNorms: [], grads: new Map(), params: new Map() };
  const data = meshBatches(steps, batch);
  for (let step = 1; step <= steps; ++step) {
    const out = await p.run(data[step - 1]!, { lr: 1e-2, step });
    run.losses.push((out.loss as Float32Array)[0]!);
    run.gradNorms.push((out.gradNorm as Float32Array)[0]!);
    if (step === 1) for (const n of p.parameterNames()) run.grads.set(n, p.read(`grad/${n}`) as Float32Array);
  }
  for (const n of p.parameterNames()) run.params.set(n, p.read(n) as Float32Array);
  return run;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

/** max |a - b| <= tol * max(max|b|, floor): the tensor's scale, so tiny tensors are not over-judged. */
export function expectTensorClose(name: string, a: Float32Array, b: Float32Array, tol: number, floor = 1e-3): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; ++i) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  const bound = tol * Math.max(maxAbs(b), floor);
  if (!(worst <= bound)) throw new Error(`${name}: max |sharded - unsharded| = ${worst} > ${bound} (tol ${tol} x scale)`);
}

/** Losses and gradient norms within `scalar` (relative), every gradient and parameter within its tolerance of its scale. */
export function expectRunsClose(got: MeshRun, want: MeshRun, tol: { scalar: number; grad: number; param: number }): void {
  got.losses.forEach((l, i) => expect(Math.abs(l - want.losses[i]!)).toBeLessThanOrEqual(tol.scalar * Math.abs(want.losses[i]!)));
  got.gradNorms.forEach((g, i) => expect(Math.abs(g - want.gradNorms[i]!)).toBeLessThanOrEqual(tol.scalar * Math.abs(want.gradNorms[i]!) + 1e-6));
  expect([...got.grads.keys()].sort()).toEqual([...want.grads.keys()].sort());
  for (const [n, g] of want.grads) expectTensorClose(`grad/${n}`, got.grads.get(n)!, g, tol.grad);
  for (const [n, v] of want.params) expectTensorClose(n, got.params.get(n)!, v, tol.param);
}
