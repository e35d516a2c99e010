/**
 * `vit22b launch`: torchrun for vit22b. Starts this machine's ranks of a multi-process job, each a
 * `vit22b launch-rank` shim (lib/launch/rank-shim.ts) running the command after `--`, and ends the
 * job as a whole. `vit22b launch-rank` is that shim: internal, not listed in the help.
 */
import * as path from 'node:path';

import { chooseComm, type LaunchComm } from '../launch/comm-choice';
import { makeStatusDir, runJob, type LaunchMember } from '../launch/launch-job';
import { findMpirun, mpirunArgs, mpirunEnv } from '../launch/mpirun';
import { runShim } from '../launch/rank-shim';
import { rankVariables, type LaunchTopology } from '../launch/rank-variables';
import { packageRoot } from '../runtime/package-root';
import type { Command } from './commands';
import { parseOptions, usageError } from './parse-options';

const LAUNCH_USAGE = `usage: vit22b launch --nproc-per-node N [--nnodes M --node-rank R --master-addr HOST]
                    [--master-port P] [--comm auto|mpi|nccl|local] [--grace-period S] [--exec]
                    -- <command> [options]

Starts N ranks of a multi-process job on this machine, each running \`vit22b <command> ...\` (e.g.
\`-- train --mesh data=2\`), with torchrun's variables set: RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT (and NCCL_COMM_ID=MASTER_ADDR:MASTER_PORT
for NCCL's bootstrap). Run it once per machine, with the same options but --node-rank.
Output: this command's stdout is rank 0's stdout, untouched (so --json works through it); every
other line, stderr included, goes to stderr prefixed "[rank R] ".
When a rank fails, the others get SIGTERM, then SIGKILL after the grace period, and launch exits
with the failed rank's status (128 + signal when a signal killed it), naming the rank.
SIGTERM/SIGINT to launch are passed on to every rank; it then exits 143/130. A second one
sends SIGKILL without waiting for the grace period.
  --nproc-per-node N   ranks on this machine (one per GPU with NCCL)
  --nnodes M           machines in the job (default 1); --node-rank R: this one's index (default 0)
  --master-addr HOST   where rank 0 runs (default 127.0.0.1; required with --nnodes > 1)
  --master-port P      a free TCP port there (default 29500)
  --comm KIND          nccl: GPUs, the ranks started here. mpi: CPU processes, started through
                       Open MPI's mpirun (its ranks can join one world no other way; one machine
                       only: across machines, run mpirun or srun yourself). local: started here,
                       no engine set up. auto (default): nccl with a GPU and NCCL 2.18+, else mpi
  --grace-period S     seconds between SIGTERM and SIGKILL when stopping ranks (default 10)
  --exec               the command after -- is any program, not a vit22b command`;

const SHIM_USAGE = `usage: vit22b launch-rank --status-dir DIR --grace-period S [--from-mpi --master-addr HOST
                         --master-port P --launcher-pid PID] [--exec] -- <command> [options]

Internal: one rank of \`vit22b launch\`, started by it (or by mpirun for it).`;

const DEFAULT_PORT = 29500;

/** Splits at the first `--`: our options before it, the rank's command after it. */
function splitCommand(args: string[], usage: string): { own: string[]; command: string[] } {
  const at = args.indexOf('--');
  if (at < 0) {
    if (args.includes('--help') || args.includes('-h')) return { own: args, command: [] };
    throw usageError('give the command to run after --, e.g. `vit22b launch --nproc-per-node 2 -- train --mesh data=2`', usage, args.join(' '));
  }
  return { own: args.slice(0, at), command: args.slice(at + 1) };
}

function intOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`${name} must be an integer from ${min} to ${max}`, LAUNCH_USAGE, value);
  }
  return n;
}

function graceMs(value: string | undefined, usage: string): number {
  if (value === undefined) return 10_000;
  const s = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(s > 0) || s > 3600) throw usageError('--grace-period must be a number of seconds, above 0 and at most 3600', usage, value);
  return Math.round(s * 1000);
}

/** The rank's program: this same CLI (run by this same node), or with --exec any program. */
function rankProgram(command: string[], exec: boolean): string[] {
  return exec ? command : [process.execPath, path.join(packageRoot(), 'dist', 'cli.js'), ...command];
}

function shimArgv(statusDir: string, grace: number, exec: boolean, command: string[], extra: string[] = []): string[] {
  return [
    process.execPath,
    path.join(packageRoot(), 'dist', 'cli.js'),
    'launch-rank',
    '--status-dir',
    statusDir,
    '--grace-period',
    String(grace / 1000),
    ...extra,
    ...(exec ? ['--exec'] : []),
    '--',
    ...command,
  ];
}

export const launchCommand: Command = {
  name: 'launch',
  aliases: [],
  summary: 'start the ranks of a multi-process job (torchrun-style), on GPUs (NCCL) or CPUs (MPI)',
  usage: LAUNCH_USAGE,
  async run(args, io) {
    const { own, command } = splitCommand(args, LAUNCH_USAGE);
    const o = parseOptions(
      own,
      {
        'nproc-per-node': { type: 'string' },
        nnodes: { type: 'string' },
        'node-rank': { type: 'string' },
        'master-addr': { type: 'string' },
        'master-port': { type: 'string' },
        comm: { type: 'string' },
        'grace-period': { type: 'string' },
        exec: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      LAUNCH_USAGE,
    );
    if (o.help) {
      io.out(LAUNCH_USAGE + '\n');
      return 0;
    }
    if (o['nproc-per-node'] === undefined) throw usageError('--nproc-per-node is required', LAUNCH_USAGE, own.join(' '));
    if (command.length === 0) throw usageError('the command after -- is empty', LAUNCH_USAGE, args.join(' '));
    const nnodes = intOption(o.nnodes, '--nnodes', 1, 1, 1 << 20);
    const topology: LaunchTopology = {
      nprocPerNode: intOption(o['nproc-per-node'], '--nproc-per-node', 1, 1, 4096),
      nnodes,
      nodeRank: intOption(o['node-rank'], '--node-rank', 0, 0, nnodes - 1),
      masterAddr: o['master-addr'] ?? '127.0.0.1',
      masterPort: intOption(o['master-port'], '--master-port', DEFAULT_PORT, 1, 65535),
    };
    if (nnodes > 1 && o['master-addr'] === undefined) {
      throw usageError('--nnodes above 1 needs --master-addr: the address of the machine with --node-rank 0, which every machine can reach', LAUNCH_USAGE, own.join(' '));
    }
    const requested = (o.comm ?? 'auto') as LaunchComm;
    if (!['auto', 'mpi', 'nccl', 'local'].includes(requested)) throw usageError('--comm must be auto, mpi, nccl or local', LAUNCH_USAGE, requested);
    const grace = graceMs(o['grace-period'], LAUNCH_USAGE);
    const exec = o.exec === true;

    const choice = chooseComm(requested);
    if (choice.comm === 'mpi' && nnodes > 1) {
      throw usageError('--comm mpi starts the ranks of one machine through mpirun; across machines, start the job with `mpirun --hostfile ...` or `srun` directly (no launcher is needed under them)', LAUNCH_USAGE, `--comm ${choice.comm} (${choice.reason}) with --nnodes ${nnodes}`);
    }
    const mpirun = choice.comm === 'mpi' ? findMpirun() : undefined;
    io.err(`vit22b launch: ${topology.nprocPerNode} rank${topology.nprocPerNode === 1 ? '' : 's'} on node ${topology.nodeRank} of ${nnodes}, comm ${choice.comm} (${choice.reason})${mpirun ? ` through ${mpirun.path} (Open MPI ${mpirun.version})` : ''}\n`);

    const statusDir = makeStatusDir();
    const members: LaunchMember[] = [];
    if (mpirun) {
      const shim = shimArgv(statusDir, grace, exec, command, ['--from-mpi', '--master-addr', topology.masterAddr, '--master-port', String(topology.masterPort), '--launcher-pid', String(process.pid)]);
      members.push({ argv: [mpirun.path, ...mpirunArgs(topology.nprocPerNode, grace, shim)], env: mpirunEnv(process.env) });
    } else {
      for (let local = 0; local < topology.nprocPerNode; ++local) {
        const vars = rankVariables(topology, local, choice.comm === 'nccl');
        members.push({ rank: Number(vars.RANK), argv: shimArgv(statusDir, grace, exec, command), env: { ...process.env, ...vars } });
      }
    }
    return runJob({ members, graceMs: grace, statusDir, log: (t) => io.err(t) });
  },
};

export const launchRankCommand: Command = {
  name: 'launch-rank',
  aliases: [],
  summary: 'internal: one rank of vit22b launch',
  hidden: true,
  usage: SHIM_USAGE,
  async run(args, io) {
    const { own, command } = splitCommand(args, SHIM_USAGE);
    const o = parseOptions(
      own,
      {
        'status-dir': { type: 'string' },
        'grace-period': { type: 'string' },
        'from-mpi': { type: 'boolean' },
        'master-addr': { type: 'string' },
        'master-port': { type: 'string' },
        'launcher-pid': { type: 'string' },
        exec: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      SHIM_USAGE,
    );
    if (o.help) {
      io.out(SHIM_USAGE + '\n');
      return 0;
    }
    if (o['status-dir'] === undefined || command.length === 0) throw usageError('--status-dir and a command after -- are required', SHIM_USAGE, args.join(' '));
    return runShim({
      argv: rankProgram(command, o.exec === true),
      statusDir: o['status-dir'],
      graceMs: graceMs(o['grace-period'], SHIM_USAGE),
      fromMpi: o['from-mpi'] === true,
      masterAddr: o['master-addr'] ?? '127.0.0.1',
      masterPort: Number(o['master-port'] ?? DEFAULT_PORT),
      ...(o['launcher-pid'] !== undefined ? { launcherPid: Number(o['launcher-pid']) } : {}),
      log: (t) => io.err(t),
    });
  },
};
