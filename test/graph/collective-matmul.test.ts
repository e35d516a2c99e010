/**
 * The asynchronous collective matmul (overlap 'ring' | 'bidirectional', passes/ring.ts and
 * ops/ring-matmul.ts) against the unsharded model: a small ViT-22B-recipe model takes 5 training
 * steps on meshes 2x2, 1x4 and 4x1 of virtual CPU devices with overlap none / ring / bidirectional,
 * ZeRO-3 off and on, and must match the unsharded run (loss, gradient norm, every gradient after
 * step 1, every parameter after step 5). The ring accumulates the chunks one by one in a
 * rank-dependent order, so results differ from the plain collectives only by the order of sums:
 * the tolerances are mesh-training.test.ts's (1e-4 of each tensor's scale in fp32; bf16-mixed looser,
 * activations being rounded to 8 mantissa bits). Plans of several streams run each stream on its own
 * thread (the CPU default, so every comparison here runs threaded); a run with
 * VIT22B_CPU_STREAM_THREADS=0 runs them serially and must give bitwise the same results (in child
 * processes on dist/: run `npx tsup` first). A 1x4 ring step's timeline shows permutes running while GEMMs run.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { compile, type CompileOptions } from '../../lib/graph/compile';
import type { MeshShape } from '../../lib/graph/sharding';
import type { OptimizerSpec } from '../../lib/graph/training-step';
import { getPreset, type ModelConfig } from '../../lib/model';
import { openDevice, type Device } from '../../lib/runtime';
import { findHazards } from '../../lib/runtime/plan-hazards';
import { cli } from '../helpers/cli-run';
import { vitModel } from '../../lib/train/vit-model';
import { expectRunsClose, meshBatches, trainOnMesh, type MeshRun } from '../helpers/mesh-runs';

let device: Device;
beforeAll(() => {
  device = openDevice({ device: 'cpu' });
});
afterAll(() => device.dispose());

// Batch 8, 4 tokens: the ring's rows (32) split into two lanes; width 32 splits 4 ways.
const recipe: ModelConfig = getPreset('tiny', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
// Sequential blocks, class token (5 tokens: 40 rows, lanes of 20), LayerNorm with bias, MLP outside
// the fused projection.
const classic: ModelConfig = getPreset('vit-ti/16', { imageSize: 8, patchSize: 4, channels: 3, width: 32, depth: 2, heads: 4, mlpDim: 64, numClasses: 5 });
const BATCH = 8;
const STEPS = 5;

interface Run extends MeshRun {
  ring?: { scatter: number; gather: number };
}

async function train(mesh: MeshShape | undefined, precision: 'fp32' | 'bf16-mixed', optimizer: OptimizerSpec, extra: Partial<CompileOptions> = {}, config: ModelConfig = recipe): Promise<Run> {
  let ring: Run['ring'];
  const run = await trainOnMesh(device, config, mesh, precision, optimizer, extra, {
    batch: BATCH,
    steps: STEPS,
    inspect: (p) => {
      // The plan loaded on the devices has no race between its streams (loadPlan checks it too).
      expect(findHazards(p.main.lowered.plan)).toEqual([]);
      if (p.main.ring) ring = { scatter: p.main.ring.scatter, gather: p.main.ring.gather };
    },
  });
  return { ...run, ...(ring ? { ring } : {}) };
}

function expectBitwise(got: Run, want: Run): void {
  expect(got.losses).toEqual(want.losses);
  for (const [n, v] of want.params) if (!Buffer.from(got.params.get(n)!.buffer).equals(Buffer.from(v.buffer))) throw new Error(`${n} differs`);
  for (const [n, v] of want.grads) if (!Buffer.from(got.grads.get(n)!.buffer).equals(Buffer.from(v.buffer))) throw new Error(`grad/${n} differs`);
}

/**
 * What the pass must have rewritten, with depth 2 on a model axis:
 *  - scatter 4: each block's out-projection (forward, matmul -> reduce_scatter: 2); the input
 *    gradient of each matmul whose input was gathered after a split norm (backward, matmul ->
 *    reduce_scatter onto the norm's feature slices): block 1's in-projection and the MAP head's
 *    key/value projection (2);
 *  - gather 3: each block's out-projection input gradient (backward, all_gather -> matmul: 2) and
 *    block 1's in-projection (forward: the split norm's normalized slices gathered into the matmul).
 * Block 0 reads the embedding, which every model rank holds whole: its norm runs on whole rows and
 * its in-projection needs no gather. 4x1 has no model axis: no pair to rewrite (its collectives are
 * data-axis all-reduces and ZeRO-3 gathers).
 */
function expectRewritten(run: Run, mesh: MeshShape): void {
  if (mesh.model > 1) expect(run.ring).toEqual({ scatter: 4, gather: 3 });
  else expect(run.ring).toEqual({ scatter: 0, gather: 0 });
}

const adamw: OptimizerSpec = { kind: 'adamw', weightDecay: 1e-4, eps: 1e-3 };
const adafactor: OptimizerSpec = { kind: 'adafactor', weightDecay: 0.03, eps: 1e-6 };
const TOL = {
  fp32: { scalar: 1e-5, grad: 1e-4, param: 1e-4 },
  'bf16-mixed': { scalar: 1e-2, grad: 5e-2, param: 5e-2 },
} as const;
const MESHES: MeshShape[] = [
  { data: 2, model: 2 },
  { data: 1, model: 4 },
  { data: 4, model: 1 },
];
const OVERLAPS = ['none', 'ring', 'bidirectional'] as const;

describe('fp32, AdamW: overlap x ZeRO-3 x mesh equals the unsharded run', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(undefined, 'fp32', adamw);
  });
  const cases = MESHES.flatMap((mesh) => OVERLAPS.flatMap((overlap) => ([0, 3] as const).map((zero) => ({ mesh, overlap, zero }))));
  test.each(cases)('mesh $mesh.data x $mesh.model, overlap $overlap, zero $zero', async ({ mesh, overlap, zero }) => {
    const run = await train(mesh, 'fp32', adamw, { overlap, zero });
    if (overlap !== 'none') expectRewritten(run, mesh);
    expectRunsClose(run, reference, TOL.fp32);
  });
});

describe('fp32, AdamW: with remat block (the ring recomputed for the backward), and the classic ViT', () => {
  let reference: Run;
  let classicReference: Run;
  beforeAll(async () => {
    reference = await train(undefined, 'fp32', adamw);
    classicReference = await train(undefined, 'fp32', adamw, {}, classic);
  });
  test.each([
    { mesh: { data: 1, model: 4 }, overlap: 'ring' as const, zero: 0 as const },
    { mesh: { data: 2, model: 2 }, overlap: 'bidirectional' as const, zero: 3 as const },
  ])('remat block: mesh $mesh.data x $mesh.model, overlap $overlap, zero $zero', async ({ mesh, overlap, zero }) => {
    const run = await train(mesh, 'fp32', adamw, { overlap, zero, remat: 'block' });
    expect(run.ring!.scatter).toBeGreaterThanOrEqual(2);
    expect(run.ring!.gather).toBeGreaterThanOrEqual(2);
    expectRunsClose(run, reference, TOL.fp32);
  });
  test.each([
    { mesh: { data: 1, model: 4 }, overlap: 'ring' as const },
    { mesh: { data: 2, model: 2 }, overlap: 'bidirectional' as const },
  ])('classic ViT: mesh $mesh.data x $mesh.model, overlap $overlap', async ({ mesh, overlap }) => {
    const run = await train(mesh, 'fp32', adamw, { overlap }, classic);
    expect(run.ring!.scatter + run.ring!.gather).toBeGreaterThan(0);
    expectRunsClose(run, classicReference, TOL.fp32);
  });
});

describe('bf16-mixed, AdamW', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(undefined, 'bf16-mixed', adamw);
  });
  test.each([
    { mesh: { data: 1, model: 4 }, overlap: 'ring' as const, zero: 0 as const },
    { mesh: { data: 1, model: 4 }, overlap: 'bidirectional' as const, zero: 0 as const },
    { mesh: { data: 2, model: 2 }, overlap: 'ring' as const, zero: 3 as const },
    { mesh: { data: 2, model: 2 }, overlap: 'bidirectional' as const, zero: 3 as const },
    { mesh: { data: 4, model: 1 }, overlap: 'ring' as const, zero: 3 as const },
  ])('mesh $mesh.data x $mesh.model, overlap $overlap, zero $zero', async ({ mesh, overlap, zero }) => {
    const run = await train(mesh, 'bf16-mixed', adamw, { overlap, zero });
    expectRewritten(run, mesh);
    expectRunsClose(run, reference, TOL['bf16-mixed']);
  });
});

// Momentum in bf16: 1e-3 on params, as in mesh-training.test.ts. ZeRO-3 on and off: with it, the
// factored statistics are all-reduced over data too (lib/train/optimizers/adafactor.ts).
describe('fp32, Adafactor', () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await train(undefined, 'fp32', adafactor);
  });
  test.each(MESHES.flatMap((mesh) => (['ring', 'bidirectional'] as const).flatMap((overlap) => ([0, 3] as const).map((zero) => ({ mesh, overlap, zero })))))(
    'mesh $mesh.data x $mesh.model, overlap $overlap, zero $zero',
    async ({ mesh, overlap, zero }) => {
      const run = await train(mesh, 'fp32', adafactor, { overlap, zero });
      expectRewritten(run, mesh);
      expectRunsClose(run, reference, { scalar: 1e-5, grad: 1e-4, param: 1e-3 });
    },
  );
});

// VIT22B_CPU_STREAM_THREADS is read once per process (native/exec/loaded_plan.cc): each mode runs
// in a child process of its own (test/helpers/ring-child.cjs, on the built dist/).
function childRun(args: object, threads: boolean, extraEnv: Record<string, string> = {}): { losses: number[]; sha256: string } {
  const env: Record<string, string | undefined> = { ...process.env, ...extraEnv };
  if (threads) delete env.VIT22B_CPU_STREAM_THREADS;
  else env.VIT22B_CPU_STREAM_THREADS = '0';
  const r = spawnSync(process.execPath, [path.join(__dirname, '../helpers/ring-child.cjs'), JSON.stringify(args)], { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { losses: number[]; sha256: string };
}

describe('threaded streams (the CPU default), serial streams and the emulated CUDA plan runtime give bitwise the same results', () => {
  test.each([
    { mesh: { data: 1, model: 4 }, overlap: 'ring' as const, zero: 0 as const },
    { mesh: { data: 2, model: 2 }, overlap: 'bidirectional' as const, zero: 3 as const },
  ])('mesh $mesh.data x $mesh.model, overlap $overlap, zero $zero', ({ mesh, overlap, zero }) => {
    const threaded = childRun({ mesh, overlap, zero }, true);
    const serial = childRun({ mesh, overlap, zero }, false);
    expect(threaded.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    expect(threaded).toEqual(serial);
    // The CUDA executor's path emulated on the CPU (plan streams and events, segments captured and
    // replayed: native/cpu/emulated_plan_runtime.h) computes the same bits.
    expect(childRun({ mesh, overlap, zero }, true, { VIT22B_CPU_PLAN_RUNTIME: '1' })).toEqual(threaded);
    // And the same as the plain collectives up to summation order.
    const plain = childRun({ mesh, overlap: 'none', zero }, true);
    threaded.losses.forEach((l, i) => expect(Math.abs(l - plain.losses[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(plain.losses[i]!)));
  });
});

test('the same mesh and overlap reproduce bit for bit', async () => {
  const a = await train({ data: 1, model: 4 }, 'fp32', adamw, { overlap: 'bidirectional' });
  const b = await train({ data: 1, model: 4 }, 'fp32', adamw, { overlap: 'bidirectional' });
  expectBitwise(b, a);
});

test('a 1x4 ring step: the timeline shows every rank sending chunks while its GEMMs run', async () => {
  using p = compile(vitModel(recipe), { device, mesh: { data: 1, model: 4 }, overlap: 'ring', seed: 1, inputShapes: { images: [BATCH, 8, 8, 3], labels: [BATCH] }, train: { loss: 'loss', optimizer: adamw } });
  const inputs = meshBatches(1, BATCH)[0]!;
  p.setProfiling(true);
  await p.run(inputs, { lr: 1e-3, step: 1 });
  const t = p.timeline();
  p.setProfiling(false);
  const spans = t.traceEvents.filter((e) => e.ph === 'X');
  for (let rank = 0; rank < 4; ++rank) {
    const mine = spans.filter((e) => e.pid === rank && e.cat === 'ring_matmul');
    const permutes = mine.filter((e) => e.name === 'collective_permute');
    const gemms = mine.filter((e) => e.name === 'gemm');
    // 4 scatter rings (2 lanes x 3 steps) and 3 gather rings (1 lane x 3 steps) of 4 ranks.
    expect(permutes).toHaveLength(4 * 2 * 3 + 3 * 3);
    expect(permutes.every((e) => e.tid !== gemms[0]!.tid)).toBe(true);
    // Overlap from the recorded spans: some permute runs while a GEMM of the same rank runs.
    const overlapping = permutes.filter((s) => gemms.some((g) => s.ts! < g.ts! + g.dur! && g.ts! < s.ts! + s.dur!));
    if (overlapping.length === 0) throw new Error(`rank ${rank}: no permute span overlaps a GEMM span`);
  }
});

test('overlap must be one of the known modes', () => {
  expect(() => compile(vitModel(recipe), { device, mesh: { data: 1, model: 2 }, overlap: 'rings' as never, inputShapes: { images: [BATCH, 8, 8, 3], labels: [BATCH] } })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
  );
});

describe('the command line takes --overlap ring | bidirectional', () => {
  test('bench step --mesh model=2 --overlap bidirectional --json reports the mesh it ran', async () => {
    const r = await cli(['bench', 'step', '--preset', 'tiny', '--batch', '4', '--steps', '1', '--warmup', '0', '--mesh', 'model=2', '--overlap', 'bidirectional', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { vit22b?: { mesh?: unknown }; mesh?: unknown };
    expect(json.vit22b?.mesh ?? json.mesh).toEqual({ shape: { data: 1, model: 2 }, zero: 0, overlap: 'bidirectional' });
  });
  test('train --mesh model=2 --overlap ring trains', async () => {
    const r = await cli(['train', '--steps', '2', '--batch', '8', '--progress', 'none', '--mesh', 'model=2', '--overlap', 'ring']);
    expect(r.code).toBe(0);
  });
  test('an unknown mode is a usage error', async () => {
    const r = await cli(['bench', 'step', '--preset', 'tiny', '--mesh', 'model=2', '--overlap', 'rings']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('ERR_USAGE');
  });
});
