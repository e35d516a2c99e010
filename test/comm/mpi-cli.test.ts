/**
 * `vit22b train --comm ...` (lib/cli/comm-option.ts): under `mpirun -np 2`, `--mesh data=2` with
 * --comm auto picks mpi and says why on rank 0's stderr, rank 0 alone prints the summary, and the
 * summary (final loss, test loss and accuracy) is exactly the single-process virtual mesh's, and so
 * are the checkpoints rank 0 writes (every process gathers the global tensors, rank 0 commits); a
 * resume over two processes continues exactly. The refusals (nccl, mpi without a mesh, a mesh of
 * another size than the job) are typed, checked in this process with launch variables of our own.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseComm } from '../../lib/cli/comm-option';
import { Vit22bError } from '../../lib/runtime/errors';
import { DIST_CLI } from '../helpers/paths';
import { describeMpi, runMpi } from './mpi-harness';

const TRAIN = ['train', '--mesh', 'data=2', '--steps', '4', '--batch', '32', '--json', '--comm-timeout', '60'];

function thrown(f: () => unknown): Vit22bError {
  try {
    f();
  } catch (e) {
    return e as Vit22bError;
  }
  throw new Error('did not throw');
}

describe('--comm choices and refusals', () => {
  const mpirun2 = { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' };
  it('auto: local for one process, mpi under mpirun (saying why)', () => {
    const one = chooseComm({}, { data: 2, model: 1 }, 'u', {});
    expect(one).toMatchObject({ comm: 'local', requested: 'auto', timeoutMs: 600_000 });
    const job = chooseComm({ 'comm-timeout': '2.5' }, { data: 2, model: 1 }, 'u', mpirun2);
    expect(job).toMatchObject({ comm: 'mpi', requested: 'auto', timeoutMs: 2500 });
    expect(job.reason).toBe('this process is rank 1 of 2 started by mpirun (OMPI_COMM_WORLD_SIZE=2)');
  });
  it('refuses nccl (not in this build), local in a job of several processes, mpi without a mesh or with a mesh of another size', () => {
    expect(thrown(() => chooseComm({ comm: 'nccl' }, { data: 2, model: 1 }, 'u', {})).code).toBe('ERR_NOT_IMPLEMENTED');
    const local = thrown(() => chooseComm({ comm: 'local' }, { data: 2, model: 1 }, 'u', mpirun2));
    expect(local.code).toBe('ERR_USAGE');
    expect(local.message).toContain('would train 2 unrelated copies');
    expect(thrown(() => chooseComm({ comm: 'mpi' }, undefined, 'u', mpirun2)).message).toContain('--comm mpi needs --mesh');
    const size = thrown(() => chooseComm({}, { data: 2, model: 2 }, 'u', mpirun2));
    expect(size.code).toBe('ERR_USAGE');
    expect(size.message).toContain('has 4 devices, but mpirun (OMPI_COMM_WORLD_SIZE=2) started 2 processes');
    const torchrun = thrown(() => chooseComm({}, { data: 2, model: 1 }, 'u', { RANK: '0', WORLD_SIZE: '2' }));
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
  const manifest = (d: string, step: number) => JSON.parse(fs.readFileSync(path.join(d, `step-${step}`, 'manifest.json'), 'utf8')) as { files: { name: string; bytes: number; sha256: string }[] };

  it('auto picks mpi and says why; rank 0 alone prints the summary and writes the checkpoints, equal to the single-process virtual mesh; a resume across processes continues exactly', async () => {
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
    expect(job.stderr).toContain('--comm auto: mpi (this process is rank 0 of 2 started by mpirun (OMPI_COMM_WORLD_SIZE=2))');
    expect(job.stderr).toContain('over 2 MPI processes');
    // Progress from rank 0 only: one line per step.
    expect(job.stderr.match(/^step 1\/4 /gm)).toHaveLength(1);
    expect(job.leftovers).toEqual([]);
    // The checkpoints rank 0 wrote hold the same bytes as the single process's (parameters,
    // optimizer state, trainer state: every file's SHA-256), and nothing else was left in the folder.
    for (const step of [2, 4]) expect(manifest(multi, step)).toEqual(manifest(single, step));
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
