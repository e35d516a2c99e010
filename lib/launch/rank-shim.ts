/**
 * `vit22b launch-rank`: the small process the launcher starts once per rank (by itself, or through
 * mpirun), which runs the rank's program as its child. It exists so that whatever started the ranks,
 * the same code prefixes the rank's output, forwards signals with a grace period, notices a launcher
 * that died (no orphaned rank keeps a GPU or a port), and records how the rank ended.
 */
import { Vit22bError } from '../runtime/errors';
import { RankProcess, exitStatus, type RankEnd } from './rank-process';
import { writeRankStatus } from './rank-status';

export interface ShimOptions {
  /** The rank's program and arguments. */
  argv: string[];
  /** Folder for rank-R.json (rank-status.ts). */
  statusDir: string;
  graceMs: number;
  /**
   * Started by mpirun: rank and sizes come from Open MPI's variables and are restated as torchrun's;
   * Open MPI signals the shim's whole process group itself, so signals are not forwarded again.
   */
  fromMpi: boolean;
  masterAddr: string;
  masterPort: number;
  /** The launcher's pid when it is not our parent (under mpirun): its death stops the rank too. */
  launcherPid?: number;
  log: (text: string) => void;
}

/** torchrun's variables from Open MPI's (one machine: mpirun is only used for local ranks). */
export function variablesFromOpenMpi(env: NodeJS.ProcessEnv, masterAddr: string, masterPort: number): Record<string, string> {
  const need = (key: string): string => {
    const v = env[key];
    if (v === undefined || !/^\d+$/.test(v)) {
      throw new Vit22bError('ERR_INVALID_ARGUMENT', `launch-rank --from-mpi: ${key} is ${v === undefined ? 'not set' : `'${v}'`}: not started by Open MPI's mpirun`, { expected: `${key}, set by mpirun`, received: v ?? 'not set' });
    }
    return v;
  };
  return {
    RANK: need('OMPI_COMM_WORLD_RANK'),
    WORLD_SIZE: need('OMPI_COMM_WORLD_SIZE'),
    LOCAL_RANK: need('OMPI_COMM_WORLD_LOCAL_RANK'),
    LOCAL_WORLD_SIZE: need('OMPI_COMM_WORLD_LOCAL_SIZE'),
    GROUP_RANK: '0',
    MASTER_ADDR: masterAddr,
    MASTER_PORT: String(masterPort),
  };
}

const PARENT_POLL_MS = 500;

export function runShim(o: ShimOptions): Promise<number> {
  const env = { ...process.env, ...(o.fromMpi ? variablesFromOpenMpi(process.env, o.masterAddr, o.masterPort) : {}) };
  const rank = Number(env.RANK);
  if (!Number.isSafeInteger(rank) || rank < 0) {
    throw new Vit22bError('ERR_INVALID_ARGUMENT', `launch-rank: RANK is '${env.RANK}': not started by vit22b launch`, { expected: 'RANK, set by vit22b launch', received: env.RANK ?? 'not set' });
  }
  const parent = process.ppid;
  const child = new RankProcess({ rank, argv: o.argv, env, log: o.log });
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;

  const stop = (signal: NodeJS.Signals, forward: boolean): void => {
    if (stopped) return;
    stopped = true;
    if (forward) child.signal(signal);
    killTimer = setTimeout(() => child.signal('SIGKILL'), o.graceMs);
  };
  const onSignal = (signal: NodeJS.Signals): void => stop(signal, !o.fromMpi);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A launcher (or mpirun) killed with SIGKILL cannot tell us: we are re-parented, and stop. Under
  // mpirun the launcher is not our parent (mpirun outlives it), so it is watched by its pid too.
  const launcherGone = (): boolean => {
    if (o.launcherPid === undefined) return false;
    try {
      process.kill(o.launcherPid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  const watch = setInterval(() => {
    if (process.ppid !== parent || launcherGone()) stop('SIGTERM', true);
  }, PARENT_POLL_MS);

  return child.ended.then((end: RankEnd) => {
    clearInterval(watch);
    clearTimeout(killTimer);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    writeRankStatus(o.statusDir, end, stopped);
    return exitStatus(end);
  });
}
