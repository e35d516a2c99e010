/**
 * Which GPU a rank of a multi-process job drives, and where its NCCL world meets (the `nccl`
 * backend: one process per GPU). The rules are pure functions of the launch environment, so each
 * is tested on machines without a GPU; openRankGpu applies them.
 */
import { cudaStatus } from './cuda-status';
import { openDevice, type Device } from './device';
import { Vit22bError } from './errors';
import type { LaunchEnv } from './launch-env';

type Env = Readonly<Record<string, string | undefined>>;

export interface GpuBinding {
  ordinal: number;
  reason: string;
}

/**
 * LOCAL_RANK's GPU, as torchrun's convention has it: local rank i drives visible device i. One
 * exception: a process that sees exactly one GPU (the cluster gave each task its own through
 * CUDA_VISIBLE_DEVICES, as `srun --gpus-per-task=1` does) drives that one whatever its local rank.
 * A local rank past the visible GPUs is ERR_INVALID_CONFIG: two ranks would share a GPU, which NCCL
 * refuses (it reports a duplicate GPU) and which would halve each rank's memory anyway.
 */
export function gpuForRank(launch: Pick<LaunchEnv, 'localRank' | 'localWorldSize'>, deviceCount: number, env: Env = process.env): GpuBinding {
  const visible = env.CUDA_VISIBLE_DEVICES;
  const seen = visible !== undefined ? ` (CUDA_VISIBLE_DEVICES=${visible})` : '';
  if (deviceCount < 1) {
    throw new Vit22bError('ERR_CUDA_UNAVAILABLE', `rank with LOCAL_RANK ${launch.localRank} sees no GPU${seen}`, {
      expected: 'one GPU per process',
      received: '0 GPUs',
    });
  }
  if (launch.localRank < deviceCount) {
    return { ordinal: launch.localRank, reason: `LOCAL_RANK ${launch.localRank} of ${launch.localWorldSize} on this machine: GPU ${launch.localRank} of the ${deviceCount} it sees${seen}` };
  }
  if (deviceCount === 1) {
    return { ordinal: 0, reason: `the one GPU this process sees${seen} (LOCAL_RANK ${launch.localRank}: the launcher gave each rank a GPU of its own)` };
  }
  throw new Vit22bError('ERR_INVALID_CONFIG', `LOCAL_RANK ${launch.localRank}, but this process sees only ${deviceCount} GPUs${seen}: one process per GPU (--nproc-per-node at most ${deviceCount})`, {
    field: 'LOCAL_RANK',
    expected: `LOCAL_RANK < ${deviceCount}`,
    received: String(launch.localRank),
  });
}

/**
 * Where the ranks' NCCL world meets: NCCL_COMM_ID when the launcher set it (`vit22b launch` does),
 * else MASTER_ADDR:MASTER_PORT of the launch environment (torchrun's variables, or SLURM's first host
 * with MASTER_PORT), written into NCCL_COMM_ID so that every rank's ncclGetUniqueId yields the same
 * id. A world of one needs none. Several ranks and no address is ERR_INVALID_CONFIG: each would
 * wait for a world of its own until the timeout.
 */
export function ncclRendezvous(launch: Pick<LaunchEnv, 'worldSize' | 'masterAddr' | 'masterPort' | 'source'>, env: Env = process.env): string | undefined {
  const given = env.NCCL_COMM_ID;
  if (given !== undefined && given !== '') return given;
  if (launch.worldSize <= 1) return undefined;
  if (launch.masterAddr === undefined || launch.masterPort === undefined) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `${launch.worldSize} processes over NCCL need a rendezvous address: set MASTER_ADDR (rank 0's host) and MASTER_PORT (a free port) on every rank, or NCCL_COMM_ID=host:port, or start the job with \`vit22b launch\`, which sets them`, {
      field: 'MASTER_ADDR, MASTER_PORT',
      expected: 'host and port of rank 0',
      received: `MASTER_ADDR=${launch.masterAddr ?? '(unset)'}, MASTER_PORT=${launch.masterPort ?? '(unset)'}`,
    });
  }
  return ncclAddress(launch.masterAddr, launch.masterPort);
}

/** NCCL_COMM_ID's "host:port": NCCL splits at the last colon, so an IPv6 literal needs brackets. */
export function ncclAddress(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/**
 * Opens this rank's GPU (gpuForRank). Where CUDA is unusable, openDevice's ERR_CUDA_UNAVAILABLE says
 * why (no driver, no device, cuBLASLt missing), rather than a bare "no GPU".
 */
export function openRankGpu(launch: Pick<LaunchEnv, 'localRank' | 'localWorldSize'>): Device {
  const status = cudaStatus();
  return openDevice({ device: 'cuda', ordinal: status.available ? gpuForRank(launch, status.devices.length).ordinal : 0 });
}
