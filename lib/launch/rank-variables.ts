/**
 * The environment a launched rank sees: torchrun's variables, whatever started it (our own spawn or
 * mpirun through the rank shim), so that one reader (lib/runtime/launch-env.ts) serves every launcher.
 */
import { ncclAddress } from '../runtime/gpu-binding';

export interface LaunchTopology {
  /** Ranks started on this machine. */
  nprocPerNode: number;
  /** Machines in the job, each running one `vit22b launch` with the same options but --node-rank. */
  nnodes: number;
  /** This machine's index, 0 .. nnodes-1. */
  nodeRank: number;
  /** Where rank 0 runs (the NCCL bootstrap root listens there). */
  masterAddr: string;
  masterPort: number;
}

/** Global rank of a local rank: nodes are filled one after the other, as torchrun does. */
export function globalRank(t: LaunchTopology, localRank: number): number {
  return t.nodeRank * t.nprocPerNode + localRank;
}

/**
 * RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK (the node), MASTER_ADDR, MASTER_PORT;
 * with `nccl` also NCCL_COMM_ID=host:port, which makes every rank's ncclGetUniqueId return the same
 * id with rank 0 hosting NCCL's bootstrap there (SHARDING.md, NCCL facts): no id exchange of ours.
 */
export function rankVariables(t: LaunchTopology, localRank: number, nccl: boolean): Record<string, string> {
  const vars: Record<string, string> = {
    RANK: String(globalRank(t, localRank)),
    WORLD_SIZE: String(t.nnodes * t.nprocPerNode),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(t.nprocPerNode),
    GROUP_RANK: String(t.nodeRank),
    MASTER_ADDR: t.masterAddr,
    MASTER_PORT: String(t.masterPort),
  };
  if (nccl) vars.NCCL_COMM_ID = ncclAddress(t.masterAddr, t.masterPort);
  return vars;
}
