/**
 * Whether this machine can run one process per GPU over NCCL, and if not, every reason why: what
 * `vit22b info` reports and what `vit22b launch --comm auto` decides by.
 */
import type { CudaStatus } from './cuda-status';

/**
 * The oldest NCCL we accept: 2.18 brought ncclCommSplit (one communicator per mesh axis) and, with
 * 2.14's non-blocking communicators (ncclConfig_t's `blocking`), everything the `nccl` backend calls.
 * native/cuda/nccl_api.h states the same floor as kNcclVersionFloor.
 */
export const NCCL_VERSION_FLOOR = '2.18.0';

export interface MultiProcessGpuStatus {
  possible: boolean;
  /** Why not (every missing piece), or what makes it possible. */
  reason: string;
}

/** "2.21.5" -> 22105 (NCCL's own code for 2.9 and later: major * 10000 + minor * 100 + patch). */
export function ncclVersionCode(version: string): number {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((p) => Number(p) || 0);
  return major * 10000 + minor * 100 + patch;
}

export function multiProcessGpu(cuda: CudaStatus): MultiProcessGpuStatus {
  const missing: string[] = [];
  if (!cuda.available || cuda.devices.length === 0) missing.push(`no usable GPU (${cuda.reason ?? 'no CUDA device found'})`);
  if (!cuda.nccl.found) missing.push(`no NCCL library (${cuda.nccl.reason ?? 'not found'})`);
  else if (ncclVersionCode(cuda.nccl.version ?? '0') < ncclVersionCode(NCCL_VERSION_FLOOR)) {
    missing.push(`NCCL ${cuda.nccl.version} is older than ${NCCL_VERSION_FLOOR}, the oldest the nccl backend supports`);
  }
  if (missing.length > 0) return { possible: false, reason: missing.join('; ') };
  return { possible: true, reason: `NCCL ${cuda.nccl.version} and ${cuda.devices.length} GPU${cuda.devices.length === 1 ? '' : 's'}: one process per GPU with --comm nccl` };
}
