/**
 * `vit22b train --comm ...` (lib/cli/comm-option.ts): under `mpirun -np 2`, `--mesh data=2` with
 * --comm auto picks mpi and says why on rank 0's stderr, rank 0 alone prints the summary, and the
 * summary (final loss, test loss and accuracy) is exactly the single-process virtual mesh's, and so
 * are the checkpoints (the sharded layout: each process writes its own rank file into rank 0's
 * temporary directory, rank 0 writes the index and manifest and commits); a resume over two
 * processes continues exactly. The refusals (mpi without a mesh, a mesh of
 * another size than the job) are typed, checked in this process with launch variables of our own.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseComm } from '../../lib/cli/comm-option';
import { Vit22bError } from '../../lib/runtime/errors';
import { thrownBy } from '../helpers/errors';
import { DIST_CLI } from '../helpers/paths';
import { describeMpi, processesWith, runMpi } from './mpi-harness';
import { latestCheckpoint } from '../../lib/io/checkpoint';
import { readManifest } from '../../lib/io/checkpoint-manifest';

// ZeRO-3: the large weights and their AdamW state are split over the two processes, so each writes
// a rank file of its own into the checkpoint.
const TRAIN = ['train', '--mesh', 'data=2', '--zero', '3', '--steps', '4', '--batch', '32', '--json', '--comm-timeout', '60'];

const thrown = (f: () => unknown) => thrownBy(f) as Vit22bError;

describe('--comm choices and refusals', () => {
  const mpirun2 = { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' };
  it('auto: local for one process, mpi under mpirun (saying why)', () => {
    const one = chooseComm({}, { data: 2, model: 1 }, 'u', {});
    expect(one).toMatchObject({ comm: 'local', requested: 'auto', timeoutMs: 600_000 });
    const job = chooseComm({ 'comm-timeout': '2.5', device: 'cpu' }, { data: 2, model: 1 }, 'u', mpirun2);
    expect(job).toMatchObject({ comm: 'mpi', requested: 'auto', timeoutMs: 2500 });
    expect(job.reason).toBe('this process is rank 1 of 2 started by mpirun (OMPI_COMM_WORLD_SIZE=2)');
    // vit22b launch --comm mpi: torchrun's variables (read first) beside Open MPI's.
    const launched = chooseComm({ device: 'cpu' }, { data: 2, model: 1 }, 'u', { ...mpirun2, RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' });
    expect(launched).toMatchObject({ comm: 'mpi', requested: 'auto' });
    expect(launched.reason).toBe('this process is rank 1 of 2 started by a torchrun-style launcher (WORLD_SIZE=2) through mpirun');
  });
  it('refuses local in a job of several processes, mpi without a mesh or with a mesh of another size', () => {
    const local = thrown(() => chooseComm({ comm: 'local' }, { data: 2, model: 1 }, 'u', mpirun2));
    expect(local.code).toBe('ERR_USAGE');
    expect(local.message).toContain('would train 2 unrelated copies');
    expect(thrown(() => chooseComm({ comm: 'mpi' }, undefined, 'u', mpirun2)).message).toContain('--comm mpi needs --mesh');
    const size = thrown(() => chooseComm({ device: 'cpu' }, { data: 2, model: 2 }, 'u', mpirun2));
    expect(size.code).toBe('ERR_USAGE');
    expect(size.message).toContain('has 4 devices, but mpirun (OMPI_COMM_WORLD_SIZE=2) started 2 processes');
    const torchrun = thrown(() => chooseComm({}, { data: 2, model: 1 }, 'u', { RANK: '0', WORLD_SIZE: '2' }, () => ({ possible: false, reason: 'no usable GPU (a test)' })));
    expect(torchrun.code).toBe('ERR_NOT_IMPLEMENTED');
    expect(thrown(() => chooseComm({ comm: 'fast' }, undefined, 'u', {})).code).toBe('ERR_USAGE');
    expect(thrown(() => chooseComm({ 'comm-timeout': '0' }, undefined, 'u', {})).code).toBe('ERR_USAGE');
  });
});

describeMpi('vit22b train under mpirun -np 2 (mesh data=2)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-mpi-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const manifest = (d: string, step: number) => JSON.parse(fs.readFileSync(path.join(d, `step-${step}`, 'manifest.json'), 'utf8')) as { layout?: string; worldSize: number; files: { name: string; bytes: number; sha256: string }[] };

  it('vit22b launch --nproc-per-node 2 -- train --mesh data=2 (mpirun under the launcher, --comm auto) gives the single-process summary exactly', () => {
    const args = ['train', '--mesh', 'data=2', '--steps', '6', '--batch', '32', '--json', '--progress', 'none', '--comm-timeout', '60'];
    const env = { ...process.env, VIT22B_NUM_THREADS: '1' };
    const single = spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', env, timeout: 60_000 });
    expect(single.status).toBe(0);
    const launched = spawnSync(process.execPath, [DIST_CLI, 'launch', '--nproc-per-node', '2', '--', ...args], { encoding: 'utf8', env, timeout: 90_000 });
    expect(launched.stderr).toMatch(/vit22b launch: 2 ranks on node 0 of 1, comm mpi/);
    expect(launched.status).toBe(0);
    // The launcher's stdout is rank 0's: one summary, equal to one process's (the mpi backend sums
    // in the virtual mesh's order).
    const pick = (t: string) => {
      const j = JSON.parse(t) as Record<string, unknown>;
      return { finalLoss: j.finalLoss, testLoss: j.testLoss, testAccuracy: j.testAccuracy, steps: j.steps, mesh: j.mesh };
    };
    expect(pick(launched.stdout)).toEqual(pick(single.stdout));
  }, 180_000);

  it('a rank SIGKILLed mid-run under vit22b launch: the launcher exits non-zero naming it, no process is left, the newest checkpoint verifies', async () => {
    const d = path.join(dir, 'killed');
    const marker = `vit22b-kill-${process.pid}-${Date.now()}`;
    // VIT22B_TEST_KILL (lib/runtime/session.ts): rank 1 kills itself before its 5th plan run, while
    // rank 0 is in that step's collectives; checkpoints of steps 1.. are committed by then.
    const env = { ...process.env, VIT22B_NUM_THREADS: '1', VIT22B_TEST_KILL: '1@5', VIT22B_TEST_MARKER: marker };
    const r = spawnSync(process.execPath, [DIST_CLI, 'launch', '--nproc-per-node', '2', '--', 'train', '--mesh', 'data=2', '--zero', '3', '--steps', '20', '--batch', '32', '--save-every', '1', '--checkpoint-dir', d, '--progress', 'none', '--comm-timeout', '20'], { encoding: 'utf8', env, timeout: 120_000 });
    expect(r.status).toBe(137);
    expect(r.stderr).toContain('vit22b launch: rank 1 failed first: it was killed by SIGKILL; every rank has stopped');
    // Nothing of the job lives on (the ranks carry the marker in their environment).
    let left = processesWith(marker);
    for (let i = 0; i < 20 && left.length > 0; ++i) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = processesWith(marker);
    }
    expect(left).toEqual([]);
    const skipped: string[] = [];
    const newest = latestCheckpoint(d, (p) => skipped.push(p));
    expect(skipped).toEqual([]);
    expect(newest).toBeDefined();
    expect(readManifest(newest!)).toMatchObject({ layout: 'sharded', worldSize: 2 });
    expect(readManifest(newest!).step).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('a process that cannot write its rank file fails the save on every process, naming it; nothing is committed or left behind', async () => {
    const d = path.join(dir, 'failing');
    const job = await runMpi(2, DIST_CLI, { VIT22B_TEST_SAVE_FAIL: '1' }, 90_000, [], [...TRAIN, '--save-every', '1', '--checkpoint-dir', d, '--progress', 'none']);
    expect(job.code).not.toBe(0);
    // Rank 0 (which speaks for the job) names the rank that failed and what it could not do.
    // Under --json each process's error is a JSON object on stdout: rank 0's names the rank that
    // failed and what it could not do; rank 1's is its own ERR_IO.
    expect(job.stdout).toMatch(/"code": "ERR_CHECKPOINT",\s*"message": "\[rank 0\] [^"]*step-1: rank 1 could not write the tensor files: ERR_IO: rank 1: cannot write its rank file[^"]*",[^}]*"rule": "peer-failed",\s*"failedRank": 1/);
    expect(job.stdout).toMatch(/"code": "ERR_IO",\s*"message": "\[rank 1\] rank 1: cannot write its rank file/);
    // No checkpoint, no temporary directory, no lock: rank 0 removed the save's files.
    expect(fs.readdirSync(d)).toEqual([]);
    expect(job.leftovers).toEqual([]);
  }, 120_000);

  it('auto picks mpi and says why; rank 0 alone prints the summary; with ZeRO-3 each process writes its own rank file of the checkpoints, equal to those of the single-process virtual mesh; a resume across processes continues exactly', async () => {
    const single = path.join(dir, 'single');
    const multi = path.join(dir, 'multi');
    const saving = (d: string) => ['--save-every', '2', '--checkpoint-dir', d];
    const ref = spawnSync(process.execPath, [DIST_CLI, ...TRAIN, ...saving(single), '--progress', 'none'], { encoding: 'utf8', env: { ...process.env, VIT22B_NUM_THREADS: '1' }, timeout: 60_000 });
    expect(ref.status).toBe(0);
    const reference = JSON.parse(ref.stdout) as { finalLoss: number; testLoss: number; testAccuracy: number; steps: number };

    const job = await runMpi(2, DIST_CLI, {}, 90_000, [], [...TRAIN, ...saving(multi), '--progress', 'lines']);
    expect(job.code).toBe(0);
    // One summary: rank 1 prints nothing on stdout.
    const summary = JSON.parse(job.stdout) as typeof reference & { mesh: object };
    expect(summary.mesh).toEqual({ data: 2, model: 1 });
    for (const k of ['steps', 'finalLoss', 'testLoss', 'testAccuracy'] as const) expect({ k, v: summary[k] }).toEqual({ k, v: reference[k] });
    // auto also says why not NCCL (this machine has no GPU).
    expect(job.stderr).toContain('--comm auto: mpi (this process is rank 0 of 2 started by mpirun (OMPI_COMM_WORLD_SIZE=2) (not NCCL: ');
    expect(job.stderr).toContain('over 2 MPI processes');
    // Progress from rank 0 only: one line per step.
    expect(job.stderr.match(/^step 1\/4 /gm)).toHaveLength(1);
    expect(job.leftovers).toEqual([]);
    // The checkpoints the two processes wrote hold the same bytes as the single process's (each rank
    // file, the index, the trainer state: every file's SHA-256), and nothing else was left in the folder.
    for (const step of [2, 4]) expect(manifest(multi, step)).toEqual(manifest(single, step));
    expect(manifest(multi, 4)).toMatchObject({ layout: 'sharded', worldSize: 2 });
    expect(manifest(multi, 4).files.map((f) => f.name).sort()).toEqual(['index.json', 'rank-0.safetensors', 'rank-1.safetensors', 'trainer.json']);
    expect(fs.readdirSync(multi).sort()).toEqual(['step-2', 'step-4']);

    // Resume from step 2 over two processes again: step 4 is rewritten with the same bytes.
    fs.rmSync(path.join(multi, 'step-4'), { recursive: true });
    const resumed = await runMpi(2, DIST_CLI, {}, 90_000, [], [...TRAIN, '--save-every', '2', '--resume', path.join(multi, 'step-2'), '--progress', 'lines']);
    expect(resumed.code).toBe(0);
    // It continued from step 2 (a fresh run would give the same bytes too: the steps say which ran).
    expect(resumed.stderr).not.toMatch(/^step [12]\/4 /m);
    expect(resumed.stderr.match(/^step 3\/4 /gm)).toHaveLength(1);
    expect((JSON.parse(resumed.stdout) as typeof reference).finalLoss).toBe(reference.finalLoss);
    expect(manifest(multi, 4)).toEqual(manifest(single, 4));
    expect(resumed.leftovers).toEqual([]);
  }, 180_000);
});
