/**
 * Where this process sits in a multi-process job (SHARDING.md, "Launch variables"): its rank, the
 * world size, its rank and the process count on its own machine, and the rendezvous address. Read
 * from the first source that names a rank, in this order:
 *   1. explicit options (the CLI's, or a caller's);
 *   2. torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
 *      MASTER_PORT (what `vit22b launch` sets, and torchrun itself);
 *   3. Open MPI's: OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE (mpirun);
 *   4. SLURM's: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, and the first
 *      host of SLURM_STEP_NODELIST (else SLURM_JOB_NODELIST) as the master address (srun).
 * No source: a single process (rank 0 of 1). An explicit option overrides that one field of the
 * source found; MASTER_ADDR / MASTER_PORT, when set, override SLURM's host (a user's explicit choice).
 * Malformed or inconsistent values are ERR_INVALID_CONFIG naming the variable.
 */
import { Vit22bError } from './errors';

export type LaunchSource = 'options' | 'torchrun' | 'openmpi' | 'slurm' | 'single';

export interface LaunchEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr?: string;
  masterPort?: number;
  /** Which source gave the rank. */
  source: LaunchSource;
}

export type LaunchOptions = Partial<Omit<LaunchEnv, 'source'>>;

type Env = Readonly<Record<string, string | undefined>>;

function invalid(field: string, expected: string, received: unknown): Vit22bError {
  return new Vit22bError('ERR_INVALID_CONFIG', `launch variable ${field} must be ${expected}, got '${String(received)}'`, {
    field,
    expected,
    received: String(received),
  });
}

function intOf(field: string, v: string | number | undefined, min: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw invalid(field, `an integer >= ${min}`, v);
  return n;
}

function portOf(field: string, v: string | number | undefined): number | undefined {
  const n = intOf(field, v, 1);
  if (n !== undefined && n > 65535) throw invalid(field, 'a port in [1, 65535]', v);
  return n;
}

/** Splits at commas outside brackets: 'a[1,2],b' -> ['a[1,2]', 'b']. */
function topLevelItems(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth < 0) throw invalid('SLURM_STEP_NODELIST', 'a SLURM node list such as node[01-03,7]', list);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) throw invalid('SLURM_STEP_NODELIST', 'a SLURM node list such as node[01-03,7]', list);
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** 'n[01-03,7]-x[1-2]' -> every host, in order: n01-x1, n01-x2, n02-x1, ... (zero padding kept). */
function expandItem(item: string, whole: string): string[] {
  const open = item.indexOf('[');
  if (open < 0) return [item];
  const close = item.indexOf(']', open);
  const prefix = item.slice(0, open);
  const rest = expandItem(item.slice(close + 1), whole);
  const values: string[] = [];
  for (const part of item.slice(open + 1, close).split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw invalid('SLURM_STEP_NODELIST', 'ranges of digits inside brackets (node[01-03,7])', whole);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 100_000) throw invalid('SLURM_STEP_NODELIST', 'ascending ranges (node[01-03])', whole);
    const width = m[1]!.length;
    for (let i = lo; i <= hi; ++i) values.push(String(i).padStart(width, '0'));
  }
  return values.flatMap((v) => rest.map((r) => prefix + v + r));
}

/** Every host of a SLURM node list in its compressed form ('node[01-03,7],login' -> node01, node02, node03, node7, login). */
export function expandSlurmNodelist(list: string): string[] {
  return topLevelItems(list).flatMap((item) => expandItem(item, list));
}

/** The first host of a SLURM node list, without expanding the rest. */
export function firstSlurmHost(list: string): string | undefined {
  const first = topLevelItems(list)[0];
  return first === undefined ? undefined : expandItem(first, list)[0];
}

/** SLURM_TASKS_PER_NODE's first count: '2(x3),1' -> 2. */
function slurmTasksPerNode(v: string | undefined): string | undefined {
  const m = v === undefined ? null : /^(\d+)/.exec(v);
  return m ? m[1] : undefined;
}

interface Found {
  source: LaunchSource;
  fields: Record<keyof LaunchOptions, [string, string | undefined]>;
}

function sources(env: Env): Found[] {
  const nodelist = env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST;
  return [
    {
      source: 'torchrun',
      fields: {
        rank: ['RANK', env.RANK],
        worldSize: ['WORLD_SIZE', env.WORLD_SIZE],
        localRank: ['LOCAL_RANK', env.LOCAL_RANK],
        localWorldSize: ['LOCAL_WORLD_SIZE', env.LOCAL_WORLD_SIZE],
        masterAddr: ['MASTER_ADDR', env.MASTER_ADDR],
        masterPort: ['MASTER_PORT', env.MASTER_PORT],
      },
    },
    {
      source: 'openmpi',
      fields: {
        rank: ['OMPI_COMM_WORLD_RANK', env.OMPI_COMM_WORLD_RANK],
        worldSize: ['OMPI_COMM_WORLD_SIZE', env.OMPI_COMM_WORLD_SIZE],
        localRank: ['OMPI_COMM_WORLD_LOCAL_RANK', env.OMPI_COMM_WORLD_LOCAL_RANK],
        localWorldSize: ['OMPI_COMM_WORLD_LOCAL_SIZE', env.OMPI_COMM_WORLD_LOCAL_SIZE],
        masterAddr: ['MASTER_ADDR', env.MASTER_ADDR],
        masterPort: ['MASTER_PORT', env.MASTER_PORT],
      },
    },
    {
      source: 'slurm',
      fields: {
        rank: ['SLURM_PROCID', env.SLURM_PROCID],
        worldSize: ['SLURM_NTASKS', env.SLURM_NTASKS],
        localRank: ['SLURM_LOCALID', env.SLURM_LOCALID],
        localWorldSize: ['SLURM_NTASKS_PER_NODE', env.SLURM_NTASKS_PER_NODE ?? slurmTasksPerNode(env.SLURM_TASKS_PER_NODE)],
        masterAddr: ['MASTER_ADDR', env.MASTER_ADDR ?? (nodelist === undefined ? undefined : firstSlurmHost(nodelist))],
        masterPort: ['MASTER_PORT', env.MASTER_PORT],
      },
    },
  ];
}

/**
 * Whether Open MPI's runtime started this process as one of several (its world variables are set),
 * whatever else set torchrun's variables beside them: `vit22b launch --comm mpi` runs its ranks
 * through mpirun and gives them torchrun's variables too, and those processes share one MPI world.
 */
export function inOpenMpiJob(env: Env = process.env): boolean {
  return Number(env.OMPI_COMM_WORLD_SIZE ?? 0) > 1;
}

/** This process's place in its job (see the file comment). */
export function detectLaunchEnv(options: LaunchOptions = {}, env: Env = process.env): LaunchEnv {
  const found = sources(env).find((s) => s.fields.rank[1] !== undefined && s.fields.rank[1] !== '');
  const pick = <K extends keyof LaunchOptions>(key: K): [string, string | number | undefined] =>
    options[key] !== undefined ? [`option ${key}`, options[key] as string | number] : found ? found.fields[key] : [key, undefined];
  const [rankName, rankRaw] = pick('rank');
  const [worldName, worldRaw] = pick('worldSize');
  const [localName, localRaw] = pick('localRank');
  const [localWorldName, localWorldRaw] = pick('localWorldSize');
  const [addrName, addrRaw] = pick('masterAddr');
  const [portName, portRaw] = pick('masterPort');
  const rank = intOf(rankName, rankRaw, 0) ?? 0;
  const worldSize = intOf(worldName, worldRaw, 1) ?? (rankRaw === undefined ? 1 : undefined);
  if (worldSize === undefined) throw invalid(worldName, `set with ${rankName} (the number of processes)`, 'unset');
  if (rank >= worldSize) throw invalid(rankName, `below the world size ${worldSize} (${worldName})`, rank);
  const localRank = intOf(localName, localRaw, 0) ?? (worldSize === 1 ? 0 : rank);
  const localWorldSize = intOf(localWorldName, localWorldRaw, 1) ?? (localRaw === undefined ? worldSize : localRank + 1);
  if (localRank >= localWorldSize) throw invalid(localName, `below the local world size ${localWorldSize} (${localWorldName})`, localRank);
  if (localWorldSize > worldSize) throw invalid(localWorldName, `at most the world size ${worldSize}`, localWorldSize);
  const masterPort = portOf(portName, portRaw);
  const masterAddr = addrRaw === undefined || addrRaw === '' ? undefined : String(addrRaw);
  if (masterAddr !== undefined && /\s/.test(masterAddr)) throw invalid(addrName, 'a host name or address', masterAddr);
  const source: LaunchSource = Object.keys(options).some((k) => options[k as keyof LaunchOptions] !== undefined) && (!found || options.rank !== undefined) ? 'options' : (found?.source ?? 'single');
  return { rank, worldSize, localRank, localWorldSize, ...(masterAddr !== undefined ? { masterAddr } : {}), ...(masterPort !== undefined ? { masterPort } : {}), source };
}
