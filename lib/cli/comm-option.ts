/**
 * --comm auto|local|mpi|nccl and --comm-timeout SECONDS: how the devices of a --mesh talk, and how
 * long one collective may wait (SHARDING.md, decisions 4 and 6).
 *   local  virtual devices of this one process (the mesh's every device here);
 *   mpi    one device per process of an MPI job (mpirun -np T*K, or srun with PMIx), Open MPI opened
 *          at run time;
 *   nccl   one GPU per process: refused here until the NCCL communicator lands (ERR_NOT_IMPLEMENTED);
 *   auto   mpi when the launch environment (lib/runtime/launch-env.ts) says this process is one of
 *          several started by mpirun or srun (also through `vit22b launch --comm mpi`), local when it
 *          is alone; it says which and why, as --device auto does.
 */
import type { MeshComm } from '../runtime/mesh';
import { Vit22bError } from '../runtime/errors';
import { detectLaunchEnv, inOpenMpiJob, type LaunchEnv } from '../runtime/launch-env';
import type { MeshShape } from '../graph/sharding';
import { choice, finiteNumber } from './option-values';
import { usageError } from './parse-options';

export const COMM_KINDS = ['auto', 'local', 'mpi', 'nccl'] as const;
export type CommRequest = (typeof COMM_KINDS)[number];

/** 10 minutes: a real step may legitimately take long; a stall still ends (tests use seconds). */
export const DEFAULT_COMM_TIMEOUT_S = 600;

export const COMM_HELP = `  --comm KIND          how mesh devices talk: auto (default) | local (virtual devices of this
                       process) | mpi (one device per process of an mpirun/srun job) | nccl
  --comm-timeout S     seconds one collective may wait for its peers before the run ends with
                       a typed timeout naming them (default ${DEFAULT_COMM_TIMEOUT_S})`;

export interface CommChoice {
  comm: MeshComm;
  requested: CommRequest;
  /** Why this backend ("requested", or auto's reason). */
  reason: string;
  timeoutMs: number;
  launch: LaunchEnv;
}

/** What a launcher of several processes is called in messages. */
function launcherText(l: LaunchEnv): string {
  return l.source === 'openmpi' ? `mpirun (OMPI_COMM_WORLD_SIZE=${l.worldSize})` : l.source === 'slurm' ? `srun (SLURM_NTASKS=${l.worldSize})` : l.source === 'torchrun' ? `a torchrun-style launcher (WORLD_SIZE=${l.worldSize})` : `options (world size ${l.worldSize})`;
}

export function chooseComm(o: { comm?: string; 'comm-timeout'?: string; device?: string }, mesh: MeshShape | undefined, usage: string, env: Readonly<Record<string, string | undefined>> = process.env): CommChoice {
  const requested = choice(o.comm, 'comm', COMM_KINDS, 'auto', usage) as CommRequest;
  const timeoutS = finiteNumber(o['comm-timeout'], 'comm-timeout', DEFAULT_COMM_TIMEOUT_S, usage, 0.001, 2 ** 31 / 1000 - 1);
  const timeoutMs = Math.max(1, Math.round(timeoutS * 1000));
  const launch = detectLaunchEnv({}, env);
  const devices = mesh ? mesh.data * mesh.model : 1;
  if (requested === 'nccl') {
    throw new Vit22bError('ERR_NOT_IMPLEMENTED', '--comm nccl (one GPU per process) is not available in this build yet', {
      expected: '--comm local, or --comm mpi under mpirun/srun for CPU processes',
      received: '--comm nccl',
    });
  }
  let comm: MeshComm;
  let reason = 'requested';
  if (requested === 'auto') {
    // torchrun's variables are read first; Open MPI's beside them (vit22b launch --comm mpi) still
    // mean one MPI world.
    const underMpirun = inOpenMpiJob(env);
    if (launch.worldSize > 1 && (launch.source === 'openmpi' || launch.source === 'slurm' || underMpirun)) {
      comm = 'mpi';
      reason = `this process is rank ${launch.rank} of ${launch.worldSize} started by ${launcherText(launch)}${launch.source === 'torchrun' && underMpirun ? ' through mpirun' : ''}`;
    } else if (launch.worldSize > 1) {
      // CPU processes talk through MPI, which needs MPI's own launcher to find each other.
      throw new Vit22bError('ERR_NOT_IMPLEMENTED', `--comm auto: ${launch.worldSize} processes started by ${launcherText(launch)}, but CPU processes need MPI's launcher (mpirun or srun) to find each other, and the NCCL backend (GPUs) is not in this build yet`, {
        expected: `mpirun -np ${launch.worldSize} vit22b train --mesh ... (or srun)`,
        received: launcherText(launch),
      });
    } else {
      comm = 'local';
      reason = mesh && devices > 1 ? 'one process: the mesh is virtual devices of this process' : 'one process';
    }
  } else {
    comm = requested;
  }
  if (comm === 'local' && launch.worldSize > 1) {
    throw usageError(`--comm local in a job of ${launch.worldSize} processes (${launcherText(launch)}) would train ${launch.worldSize} unrelated copies; use --comm mpi (or auto)`, usage, `--comm ${requested}`);
  }
  if (comm === 'mpi') {
    if (!mesh) throw usageError('--comm mpi needs --mesh (one device per process: data x model = the number of processes)', usage, '--comm mpi');
    if (launch.source !== 'single' && launch.worldSize !== devices) {
      throw usageError(`--mesh ${mesh.data}x${mesh.model} has ${devices} devices, but ${launcherText(launch)} started ${launch.worldSize} processes (one device each)`, usage, `${launch.worldSize} processes`);
    }
  }
  return { comm: comm!, requested, reason, timeoutMs, launch };
}
