/** Which engine the launched ranks communicate with, and why: `auto` is never silent. */
import { cudaStatus } from '../runtime/cuda-status';
import { multiProcessGpu } from '../runtime/nccl-status';

export type LaunchComm = 'auto' | 'mpi' | 'nccl' | 'local';

export interface CommChoice {
  comm: Exclude<LaunchComm, 'auto'>;
  reason: string;
}

/** auto: NCCL when a GPU and a recent enough NCCL are here, else MPI between CPU processes. */
export function chooseComm(requested: LaunchComm): CommChoice {
  if (requested !== 'auto') return { comm: requested, reason: `--comm ${requested}` };
  const gpu = multiProcessGpu(cudaStatus());
  if (gpu.possible) return { comm: 'nccl', reason: `--comm auto: ${gpu.reason}` };
  return { comm: 'mpi', reason: `--comm auto: CPU ranks over Open MPI, since ${gpu.reason}` };
}
