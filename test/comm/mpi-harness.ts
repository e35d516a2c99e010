/**
 * Running `mpirun` jobs from tests (the multi-process CPU path, SHARDING.md). The container-safe
 * settings live here, not with the user: --allow-run-as-root (CI runs as root), --oversubscribe (more
 * ranks than the 2 cores), and OMPI_MCA_btl_vader_single_copy_mechanism=none (CMA's
 * process_vm_readv is refused in containers: "Read -1, expected N, errno = 1").
 *
 * Open MPI missing: the tests skip, except under VIT22B_REQUIRE_MPI=1 (set by .ci/run, which
 * installs it with scripts/install-openmpi.sh), where they fail.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

export const DIST_INDEX = path.join(REPO_ROOT, 'dist', 'index.js');

function findMpirun(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p) return undefined;
  // The addon opens libmpi.so.40 (Open MPI 4.x) at run time; an MPICH mpirun alone is not enough.
  const v = spawnSync(p, ['--version'], { encoding: 'utf8' });
  return /Open MPI|OpenRTE/i.test(`${v.stdout}${v.stderr}`) ? p : undefined;
}

export const MPIRUN = findMpirun();
export const MPI_REQUIRED = process.env.VIT22B_REQUIRE_MPI === '1';

/**
 * `describe` when Open MPI is here (or required: then the tests run and fail without it, naming
 * the install script), `describe.skip` otherwise.
 */
export const describeMpi: jest.Describe = MPIRUN || MPI_REQUIRED ? describe : describe.skip;

export function requireMpirun(): string {
  if (!MPIRUN) throw new Error('Open MPI (mpirun) is missing but VIT22B_REQUIRE_MPI=1: run scripts/install-openmpi.sh');
  return MPIRUN;
}

export interface MpiJob {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The directory the ranks wrote their rank<r>.json into. */
  out: string;
  /** rank -> its parsed rank<r>.json (ranks that wrote none are absent). */
  results: Map<number, unknown>;
  /** Processes still alive afterwards whose command line carried this job's marker (none expected). */
  leftovers: number[];
}

/** Pids of live processes whose environment or command line carries `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (env.includes(marker)) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/**
 * `mpirun [mpirunArgs] -np <np> node <script> [scriptArgs]` with `env` added, waited for at most
 * `limitMs` (then the whole process group is killed and the job reported as it stood). Each rank
 * writes its result to $VIT22B_TEST_OUT/rank<r>.json.
 */
export async function runMpi(np: number, script: string, env: Record<string, string>, limitMs = 90_000, mpirunArgs: readonly string[] = [], scriptArgs: readonly string[] = []): Promise<MpiJob> {
  const mpirun = requireMpirun();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-mpi-'));
  const marker = `VIT22B_TEST_JOB=${path.basename(out)}`;
  const started = performance.now();
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    VIT22B_DIST: DIST_INDEX,
    VIT22B_TEST_OUT: out,
    VIT22B_TEST_JOB: path.basename(out),
    // One kernel thread per rank: the ranks already outnumber the cores.
    VIT22B_NUM_THREADS: '1',
    OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
    // No InfiniBand/verbs probing in containers (a warning per rank otherwise); shared memory and TCP.
    OMPI_MCA_btl: '^openib',
  };
  // mpirun exports only OMPI_* by default: the rest must be named with -x.
  const exported = ['VIT22B_DIST', 'VIT22B_TEST_OUT', 'VIT22B_TEST_JOB', 'VIT22B_NUM_THREADS', ...Object.keys(env)];
  const args = ['--allow-run-as-root', '--oversubscribe', ...mpirunArgs, '-np', String(np), ...exported.flatMap((k) => ['-x', k]), process.execPath, script, ...scriptArgs];
  const child = spawn(mpirun, args, { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[harness] mpirun still running after ${limitMs} ms: killed\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, limitMs);
    child.on('exit', (c, s) => {
      clearTimeout(timer);
      resolve({ code: c, signal: s });
    });
  });
  const ms = performance.now() - started;
  // Give the kernel a moment to reap, then look for anything of this job still alive.
  let leftovers = processesWith(marker);
  for (let i = 0; i < 20 && leftovers.length > 0; ++i) {
    await new Promise((r) => setTimeout(r, 100));
    leftovers = processesWith(marker);
  }
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const results = new Map<number, unknown>();
  for (const f of fs.readdirSync(out)) {
    const m = /^rank(\d+)\.json$/.exec(f);
    if (m) results.set(Number(m[1]), JSON.parse(fs.readFileSync(path.join(out, f), 'utf8')));
  }
  fs.rmSync(out, { recursive: true, force: true });
  return { code, signal, stdout, stderr, ms, out, results, leftovers };
}
