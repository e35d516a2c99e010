/**
 * Finding Open MPI's mpirun and the arguments that make it work everywhere we run: as root in a
 * container, with more ranks than cores, and with every rank free to use all the cores it is given.
 *
 * Why mpirun at all: Open MPI ranks join one MPI_COMM_WORLD only when its runtime (mpirun's PMIx
 * server) started them; processes we spawned ourselves would each be a world of one (a "singleton").
 * So for the `mpi` backend the launcher has mpirun start N copies of our rank shim, and the shim
 * starts the rank's program, which inherits Open MPI's variables and joins the world.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Vit22bError } from '../runtime/errors';
import { BACKSTOP_MS } from './launch-job';

export interface Mpirun {
  path: string;
  /** "4.1.4" */
  version: string;
}

/** The first executable `mpirun` on PATH that is Open MPI's (MPICH's mpiexec takes other flags). */
export function findMpirun(env: NodeJS.ProcessEnv = process.env): Mpirun {
  const dirs = (env.PATH ?? '').split(':').filter((d) => d.length > 0);
  const tried: string[] = [];
  for (const dir of dirs) {
    const file = path.join(dir, 'mpirun');
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      continue;
    }
    const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const m = /Open MPI\)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    if (m) return { path: file, version: m[1]! };
    tried.push(`${file} (not Open MPI: ${(r.stdout ?? '').split('\n')[0] || r.error?.message || 'no version'})`);
  }
  throw new Vit22bError('ERR_DEPENDENCY_MISSING', `--comm mpi needs Open MPI's mpirun, and none was found on PATH${tried.length ? `: ${tried.join(', ')}` : ''}. Install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3), or choose --comm nccl on GPUs`, {
    dependency: 'openmpi-bin',
    expected: 'mpirun (Open MPI 4.1 or newer) on PATH',
    received: tried.length ? tried.join(', ') : 'none',
    searched: dirs,
  });
}

/**
 * mpirun's options for N local copies of `program`:
 * - `--oversubscribe`: more ranks than cores is allowed (CI machines have 2);
 * - `--bind-to none`: Open MPI binds each rank to one core by default, which would leave a rank's
 *   thread pool one core; each rank sizes its own pool to its share of the machine instead;
 * - `--allow-run-as-root` when we are root (containers): Open MPI refuses root otherwise;
 * - the SIGTERM -> SIGKILL delay of its teardown set to our grace period plus the backstop (the
 *   shims kill their ranks at the end of the grace period themselves), applied to the whole
 *   process group of each shim (what the rank started dies with it).
 */
export function mpirunArgs(nproc: number, graceMs: number, program: string[]): string[] {
  const args = ['-np', String(nproc), '--oversubscribe', '--bind-to', 'none'];
  if (process.getuid?.() === 0) args.push('--allow-run-as-root');
  args.push('--mca', 'odls_base_sigkill_timeout', String(Math.ceil(graceMs / 1000) + Math.ceil(BACKSTOP_MS / 1000)));
  args.push('--mca', 'odls_base_signal_direct_children_only', 'false');
  return [...args, ...program];
}

/**
 * The environment mpirun runs with: the user's, plus the container-safe shared-memory setting
 * (Open MPI's default single-copy mechanism, CMA, needs ptrace rights containers do not grant, and
 * fails with "Read -1, expected N, errno = 1"). A value the user set is kept.
 */
export function mpirunEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { OMPI_MCA_btl_vader_single_copy_mechanism: 'none', ...env };
}
