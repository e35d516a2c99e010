/**
 * --comm auto|local|mpi|nccl and --comm-timeout SECONDS: how the devices of a --mesh talk, and how
 * long one collective may wait (SHARDING.md, decisions 4 and 6).
 *   local  virtual devices of this one process (the mesh's every device here);
 *   mpi    one CPU device per process of an MPI job (mpirun -np T*K, or srun with PMIx), Open MPI
 *          opened at run time;
 *   nccl   one GPU per process (LOCAL_RANK's) of a job started by `vit22b launch`, torchrun, srun or
 *          mpirun, NCCL opened at run time, meeting at NCCL_COMM_ID or MASTER_ADDR:MASTER_PORT;
 *   auto   for a process that is one of several: nccl when it may use a GPU (--device auto or cuda)
 *          and this machine can run NCCL (vit22b info's multi-GPU row), else mpi when mpirun or srun
 *          started it; local when it is alone. It says which and why, as --device auto does.
 */
import type { MeshComm } from '../runtime/mesh';
import { cudaStatus } from '../runtime/cuda-status';
import { Vit22bError } from '../runtime/errors';
import { multiProcessGpu, type MultiProcessGpuStatus } from '../runtime/nccl-status';
import { detectLaunchEnv, inOpenMpiJob, type LaunchEnv } from '../runtime/launch-env';
import type { MeshShape } from '../graph/sharding';
import { choice, finiteNumber } from './option-values';
import { usageError } from './parse-options';

export const COMM_KINDS = ['auto', 'local', 'mpi', 'nccl'] as const;
export type CommRequest = (typeof COMM_KINDS)[number];

/** 10 minutes: a real step may legitimately take long; a stall still ends (tests use seconds). */
export const DEFAULT_COMM_TIMEOUT_S = 600;

export const COMM_HELP = `  --comm KIND          how mesh devices talk: auto (default) | local (virtual devices of this
                       process) | mpi (one CPU device per process of an mpirun/srun job) |
                       nccl (one GPU per process: vit22b launch, torchrun, srun, mpirun)
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

export function chooseComm(o: { comm?: string; 'comm-timeout'?: string; device?: string }, mesh: MeshShape | undefined, usage: string, env: Readonly<Record<string, string | undefined>> = process.env, gpu: () => MultiProcessGpuStatus = () => multiProcessGpu(cudaStatus())): CommChoice {
  const requested = choice(o.comm, 'comm', COMM_KINDS, 'auto', usage) as CommRequest;
  const timeoutS = finiteNumber(o['comm-timeout'], 'comm-timeout', DEFAULT_COMM_TIMEOUT_S, usage, 0.001, 2 ** 31 / 1000 - 1);
  const timeoutMs = Math.max(1, Math.round(timeoutS * 1000));
  const launch = detectLaunchEnv({}, env);
  const devices = mesh ? mesh.data * mesh.model : 1;
  let comm: MeshComm;
  let reason = 'requested';
  if (requested === 'auto') {
    // torchrun's variables are read first; Open MPI's beside them (vit22b launch --comm mpi) still
    // mean one MPI world.
    const underMpirun = inOpenMpiJob(env);
    const started = `this process is rank ${launch.rank} of ${launch.worldSize} started by ${launcherText(launch)}${launch.source === 'torchrun' && underMpirun ? ' through mpirun' : ''}`;
    // GPUs are asked about only for a job of several processes that may use one.
    const gpus = launch.worldSize > 1 && o.device !== 'cpu' ? gpu() : undefined;
    if (gpus?.possible) {
      comm = 'nccl';
      reason = `${started}; ${gpus.reason}`;
    } else if (launch.worldSize > 1 && (launch.source === 'openmpi' || launch.source === 'slurm' || underMpirun)) {
      comm = 'mpi';
      reason = `${started}${gpus ? ` (not NCCL: ${gpus.reason})` : ''}`;
    } else if (launch.worldSize > 1) {
      // CPU processes talk through MPI, which needs MPI's own launcher to find each other.
      throw new Vit22bError('ERR_NOT_IMPLEMENTED', `--comm auto: ${launch.worldSize} processes started by ${launcherText(launch)}, but CPU processes need MPI's launcher (mpirun or srun) to find each other, and GPUs over NCCL are not possible here (${gpus?.reason ?? '--device cpu'})`, {
        expected: `GPUs with NCCL 2.18+, or mpirun -np ${launch.worldSize} vit22b train --mesh ... (or srun)`,
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
    throw usageError(`--comm local in a job of ${launch.worldSize} processes (${launcherText(launch)}) would train ${launch.worldSize} unrelated copies; use --comm ${o.device === 'cpu' ? 'mpi' : 'nccl or mpi'} (or auto)`, usage, `--comm ${requested}`);
  }
  if (comm === 'mpi' || comm === 'nccl') {
    const what = comm === 'mpi' ? 'one device per process' : 'one GPU per process';
    if (!mesh) throw usageError(`--comm ${comm} needs --mesh (${what}: data x model = the number of processes)`, usage, `--comm ${comm}`);
    if (launch.source !== 'single' && launch.worldSize !== devices) {
      throw usageError(`--mesh ${mesh.data}x${mesh.model} has ${devices} devices, but ${launcherText(launch)} started ${launch.worldSize} processes (${what})`, usage, `${launch.worldSize} processes`);
    }
  }
  if (comm === 'nccl' && launch.source === 'single' && devices > 1) {
    throw usageError(`--comm nccl with --mesh ${mesh!.data}x${mesh!.model} needs ${devices} processes, one per GPU: start them with \`vit22b launch --nproc-per-node ${devices} -- train ...\` (or torchrun, srun, mpirun)`, usage, 'one process');
  }
  if (comm === 'nccl' && o.device === 'cpu') throw usageError('--comm nccl runs one GPU per process; --device cpu asks for none (use --comm mpi for CPU processes)', usage, '--device cpu');
  return { comm: comm!, requested, reason, timeoutMs, launch };
}
