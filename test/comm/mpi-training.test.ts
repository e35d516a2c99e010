/**
 * The multi-process mesh against the single-process virtual mesh: 5 AdamW training steps of a small
 * ViT-22B-recipe model (mpi-train-child.cjs) on meshes 2x1 and 1x2 (`mpirun -np 2`) and 2x2
 * (`mpirun -np 4`), fp32 and bf16-mixed, against the same mesh of virtual devices in one process.
 * Tolerance: none. The `mpi` backend sums in the `local` backend's order (axis rank order, f32, one
 * rounding), every process initialises and cuts its slices as the single process does, and outputs
 * are assembled from every rank's, so every loss, gradient norm and final parameter must be the same
 * bits. Every rank reports the same (global reads gather every process's slices).
 * (The virtual mesh itself is tested against the unsharded run in test/graph/mesh-training.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST_INDEX, describeMpi, runMpi } from './mpi-harness';

const CHILD = path.join(__dirname, 'mpi-train-child.cjs');

interface Run {
  rank: number;
  losses: string[];
  gradNorms: string[];
  params: Record<string, { sha: string; head: number[] }>;
}

/** The same training on a virtual mesh in one plain process. */
function localRun(mesh: string, precision: string): Run {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-local-'));
  try {
    const r = spawnSync(process.execPath, [CHILD], {
      env: { ...process.env, VIT22B_DIST: DIST_INDEX, VIT22B_TEST_OUT: out, VIT22B_NUM_THREADS: '1', VIT22B_TEST_MESH: mesh, VIT22B_TEST_COMM: 'local', VIT22B_TEST_PRECISION: precision },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(fs.readFileSync(path.join(out, 'rank0.json'), 'utf8')) as Run;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

// shard: each process is fed only its data coordinate's rows (Program.run's shard: true), as the
// trainer feeds a multi-process run; otherwise the global batch, cut by every process.
const CASES: [mesh: string, np: number, precision: string, shard: boolean][] = [
  ['2x1', 2, 'fp32', false],
  ['1x2', 2, 'fp32', false],
  ['2x2', 4, 'fp32', false],
  ['2x2', 4, 'bf16-mixed', false],
  ['2x1', 2, 'fp32', true],
  ['2x2', 4, 'bf16-mixed', true],
];

describeMpi('a multi-process mesh (mpirun) equals the single-process virtual mesh bit for bit', () => {
  it.each(CASES)('mesh %s over %i processes, %s, fed shards: %s: 5 AdamW steps', async (mesh, np, precision, shard) => {
    const reference = localRun(mesh, precision);
    // The reference really trained: the loss moved and every step is finite.
    expect(new Set(reference.losses).size).toBeGreaterThan(1);
    for (const l of reference.losses) expect(Number.isFinite(new Float32Array(new Uint32Array([parseInt(l, 16)]).buffer)[0]!)).toBe(true);
    const job = await runMpi(np, CHILD, { VIT22B_TEST_MESH: mesh, VIT22B_TEST_COMM: 'mpi', VIT22B_TEST_PRECISION: precision, VIT22B_TEST_SHARD: shard ? '1' : '0' });
    expect(job.stderr).not.toMatch(/ERROR|ERR_/);
    expect(job.code).toBe(0);
    expect([...job.results.keys()].sort()).toEqual(Array.from({ length: np }, (_, r) => r));
    for (const [rank, result] of job.results) {
      const r = result as Run;
      expect(r.rank).toBe(rank);
      expect(r.losses).toEqual(reference.losses);
      expect(r.gradNorms).toEqual(reference.gradNorms);
      expect(Object.keys(r.params).sort()).toEqual(Object.keys(reference.params).sort());
      for (const [name, p] of Object.entries(reference.params)) expect({ name, ...r.params[name] }).toEqual({ name, ...p });
    }
    expect(job.leftovers).toEqual([]);
  }, 120_000);
});

const TRAINER_CHILD = path.join(__dirname, 'mpi-trainer-shard-child.cjs');

describeMpi('the Trainer over processes reads only its data shard', () => {
  it('mesh data=2 over 2 processes: each asks its sources for shard(d, 2) and builds half batches (a short last test batch whole); steps and evaluation equal the virtual mesh reading whole batches', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-local-'));
    type Evals = { testAccuracy: number; testLoss: string; examples: number }[];
    let local: { shards: number[][]; sizes: number[]; losses: string[]; accuracies: number[]; test: { shards: number[][]; sizes: number[] }; evals: Evals };
    try {
      const r = spawnSync(process.execPath, [TRAINER_CHILD], { env: { ...process.env, VIT22B_DIST: DIST_INDEX, VIT22B_TEST_OUT: out, VIT22B_NUM_THREADS: '1', VIT22B_TEST_COMM: 'local' }, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      local = JSON.parse(fs.readFileSync(path.join(out, 'rank0.json'), 'utf8'));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    // One process holds every data shard: whole batches of 16, never a shard.
    expect(local.shards).toEqual([]);
    expect(new Set(local.sizes)).toEqual(new Set([16]));
    expect(local.test).toEqual({ shards: [], sizes: [16, 16, 8] });
    expect(local.evals).toHaveLength(1);
    expect(local.evals[0]!.examples).toBe(40);
    const job = await runMpi(2, TRAINER_CHILD, { VIT22B_TEST_COMM: 'mpi' });
    expect(job.stderr).not.toMatch(/ERROR|ERR_/);
    expect(job.code).toBe(0);
    for (const [rank, result] of job.results) {
      const r = result as typeof local;
      expect(r.shards).toEqual([[rank, 2]]);
      expect(new Set(r.sizes)).toEqual(new Set([8]));
      expect(r.losses).toEqual(local.losses);
      // Accuracy counts the global batch's images (hits over 16), not the shard's 8.
      expect(r.accuracies).toEqual(local.accuracies);
      // Evaluation: shards of the two full test batches, the short last batch whole; the same result.
      expect(r.test).toEqual({ shards: [[rank, 2]], sizes: [8, 8, 8] });
      expect(r.evals).toEqual(local.evals);
    }
    expect(job.leftovers).toEqual([]);
  }, 120_000);
});
