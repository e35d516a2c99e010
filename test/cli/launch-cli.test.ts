/**
 * `vit22b launch`, run as users run it (dist/cli.js), with a stand-in rank
 * (test/helpers/launch-test-rank.cjs) so that only the launcher is under test: the variables each
 * rank sees, rank 0's stdout passed through untouched and every other line prefixed, a failing
 * rank tearing the job down (exit status and rank named, a rank that ignores SIGTERM killed after
 * the grace period), SIGTERM/SIGINT to the launcher, and no process left behind, both with the
 * launcher spawning the ranks itself (local, nccl) and through Open MPI's mpirun (mpi).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cudaStatus } from '../../lib/runtime/cuda-status';
import { multiProcessGpu } from '../../lib/runtime/nccl-status';
import { cli } from '../helpers/cli-run';
import { DIST_CLI, REPO_ROOT } from '../helpers/paths';

const RANK_SCRIPT = path.join(REPO_ROOT, 'test', 'helpers', 'launch-test-rank.cjs');

let tmp: string;
let launcherTmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-launch-test-'));
  launcherTmp = path.join(tmp, 'launcher-tmp');
  fs.mkdirSync(launcherTmp);
});
afterAll(() => {
  // A failed test may have left ranks (our own processes) behind: they go, whatever the result.
  for (const dir of fs.readdirSync(tmp).filter((d) => d.startsWith('run-'))) {
    for (const pid of recordedPids(path.join(tmp, dir))) {
      try {
        // Only a process that is still ours (a pid may have been reused by now).
        if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(tmp)) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pidDir: string;
}

let runs = 0;
/** Runs `vit22b launch <opts> --exec -- node launch-test-rank.cjs MODE PIDDIR <rest>`; `during` may signal it. */
function launch(opts: string[], mode: string, rest: string[] = [], during?: (pid: number, pidDir: string) => Promise<void>): Promise<Ended> {
  const pidDir = path.join(tmp, `run-${runs++}`);
  fs.mkdirSync(pidDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_CLI, 'launch', ...opts, '--exec', '--', process.execPath, RANK_SCRIPT, mode, pidDir, ...rest], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The launcher's status folder goes here: a launcher killed by SIGKILL cannot remove its own.
      env: { ...process.env, TMPDIR: launcherTmp },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    // Every wait has a deadline: a launcher that hangs fails the test instead of stalling CI.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      // 'exit' can come before the pipes are drained; 'close' has everything. A rank left behind
      // holds the pipes open: then the checks run without waiting (and fail), instead of hanging.
      const done = (): void => resolve({ code, signal, stdout, stderr, pidDir });
      const leftBehind = setTimeout(done, 15_000);
      child.on('close', () => {
        clearTimeout(leftBehind);
        done();
      });
    });
    if (during) during(child.pid!, pidDir).catch(reject);
  });
}

/** Alive and not a zombie (a killed process its new parent has not reaped yet is gone for us). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every rank's pid and its shim's, from the files the stand-in ranks wrote. */
function recordedPids(pidDir: string): number[] {
  return fs
    .readdirSync(pidDir)
    .filter((n) => n.endsWith('.pid'))
    .flatMap((n) => fs.readFileSync(path.join(pidDir, n), 'utf8').split(' ').map(Number));
}

async function expectNoneLeft(pidDir: string, expectedRanks: number): Promise<void> {
  const pids = recordedPids(pidDir);
  expect(pids).toHaveLength(2 * expectedRanks);
  // The launcher has exited: its ranks must already be gone; a moment for the kernel to finish.
  for (let i = 0; i < 20 && pids.some(alive); ++i) await new Promise((r) => setTimeout(r, 50));
  expect(pids.filter(alive)).toEqual([]);
}

async function waitForRanks(pidDir: string, n: number): Promise<void> {
  for (let i = 0; i < 600; ++i) {
    if (fs.readdirSync(pidDir).filter((f) => f.endsWith('.pid')).length === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the ${n} ranks never started`);
}

/** The JSON lines a stand-in rank printed: stdout for rank 0, "[rank R] {...}" on stderr for the rest. */
function prefixedEnv(stderr: string, rank: number): Record<string, string> {
  const line = stderr.split('\n').find((l) => l.startsWith(`[rank ${rank}] {`));
  if (line === undefined) throw new Error(`no variables from rank ${rank} in:\n${stderr}`);
  return JSON.parse(line.slice(`[rank ${rank}] `.length)) as Record<string, string>;
}

describe('ranks started by the launcher itself', () => {
  test('torchrun variables for node 1 of 2; no global rank 0 here, so stdout stays empty and every line is prefixed', async () => {
    const r = await launch(['--nproc-per-node', '3', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.1.2.3', '--master-port', '1234', '--comm', 'local'], 'env');
    expect(r.code).toBe(0);
    const base = { WORLD_SIZE: '6', LOCAL_WORLD_SIZE: '3', GROUP_RANK: '1', MASTER_ADDR: '10.1.2.3', MASTER_PORT: '1234' };
    expect(r.stdout).toBe('');
    expect(prefixedEnv(r.stderr, 3)).toEqual({ ...base, RANK: '3', LOCAL_RANK: '0' });
    expect(prefixedEnv(r.stderr, 4)).toEqual({ ...base, RANK: '4', LOCAL_RANK: '1' });
    expect(prefixedEnv(r.stderr, 5)).toEqual({ ...base, RANK: '5', LOCAL_RANK: '2' });
    for (const rank of [3, 4, 5]) {
      expect(r.stderr).toContain(`[rank ${rank}] stderr of ${rank}\n`);
      // A last line without a newline still comes out whole, with its prefix.
      expect(r.stderr).toContain(`[rank ${rank}] no newline at the end\n`);
    }
    await expectNoneLeft(r.pidDir, 3);
    // The launcher removed its status folder.
    expect(fs.readdirSync(launcherTmp)).toEqual([]);
  });

  test('nccl: NCCL_COMM_ID is the master address and port on every rank; stdout is exactly rank 0s', async () => {
    const r = await launch(['--nproc-per-node', '2', '--master-port', '29555', '--comm', 'nccl'], 'env');
    expect(r.code).toBe(0);
    // Rank 0's line (written in two pieces) and nothing else: what `--json` readers parse.
    expect(r.stdout.endsWith('}\n')).toBe(true);
    expect(JSON.parse(r.stdout)).toMatchObject({ RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '0', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29555', NCCL_COMM_ID: '127.0.0.1:29555' });
    expect(r.stderr).toContain('[rank 0] stderr of 0\n');
    expect(prefixedEnv(r.stderr, 1)).toMatchObject({ RANK: '1', NCCL_COMM_ID: '127.0.0.1:29555' });
  });

  test('a failing rank stops the job: its exit code, its rank named, a rank ignoring SIGTERM killed after the grace period', async () => {
    const t0 = Date.now();
    const r = await launch(['--nproc-per-node', '3', '--comm', 'local', '--grace-period', '1'], 'fail', ['1', '7']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('vit22b launch: rank 1 exited with code 7: stopping the other ranks');
    expect(r.stderr).toContain('vit22b launch: rank 1 failed first: it exited with code 7');
    // Rank 2 got the SIGTERM (and ignored it): only the SIGKILL after the grace period ended it.
    expect(r.stderr).toContain('[rank 2] rank 2 ignores SIGTERM');
    expect(r.stdout).toBe('');
    expect(Date.now() - t0).toBeLessThan(30_000);
    await expectNoneLeft(r.pidDir, 3);
  });

  test('without --exec the ranks run this CLI: `launch -- info --model tiny --json` gives rank 0s JSON on stdout', async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [DIST_CLI, 'launch', '--nproc-per-node', '2', '--comm', 'local', '--', 'info', '--model', 'tiny', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    const direct = await cli(['info', '--model', 'tiny', '--json']);
    expect(r.stdout).toBe(direct.out);
    // Rank 1 printed the same object, every line of it prefixed, on stderr.
    const rank1 = r.stderr.split('\n').filter((l) => l.startsWith('[rank 1] ')).map((l) => l.slice('[rank 1] '.length)).join('\n');
    expect(JSON.parse(rank1)).toEqual(JSON.parse(direct.out));
  });

  test('a program that cannot be started: exit 127, the rank and the cause named', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [DIST_CLI, 'launch', '--nproc-per-node', '2', '--comm', 'local', '--grace-period', '1', '--exec', '--', path.join(tmp, 'no-such-program')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/vit22b launch: rank [01] failed first: it could not be started \(spawn .*no-such-program ENOENT\)/);
  });

  test('SIGTERM to the launcher reaches every rank; exit 143', async () => {
    const r = await launch(['--nproc-per-node', '2', '--comm', 'local', '--grace-period', '1'], 'wait', [], async (pid, dir) => {
      await waitForRanks(dir, 2);
      process.kill(pid, 'SIGTERM');
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('vit22b launch: SIGTERM received: stopping every rank');
    await expectNoneLeft(r.pidDir, 2);
  });
});

test.each(['local', 'mpi'])('a launcher killed with SIGKILL leaves no rank behind (%s): the shims notice and stop their ranks', async (comm) => {
  const r = await launch(['--nproc-per-node', '2', '--comm', comm, '--grace-period', '1'], 'wait', [], async (pid, dir) => {
    await waitForRanks(dir, 2);
    process.kill(pid, 'SIGKILL');
  });
  expect(r.signal).toBe('SIGKILL');
  // Nobody can catch SIGKILL: the shims see the launcher vanish (polled every 0.5 s; under mpirun,
  // which outlives the launcher, by its pid) and stop their ranks.
  const pids = recordedPids(r.pidDir);
  expect(pids).toHaveLength(4);
  for (let i = 0; i < 100 && pids.some(alive); ++i) await new Promise((res) => setTimeout(res, 50));
  expect(pids.filter(alive)).toEqual([]);
});

describe('CPU ranks through Open MPI (mpirun starts the rank shims)', () => {
  test('--comm auto picks NCCL only with a GPU and NCCL; mpi ranks see torchrun and Open MPI variables', async () => {
    const r = await launch(['--nproc-per-node', '2', '--comm', 'auto'], 'env');
    expect(r.code).toBe(0);
    const gpu = multiProcessGpu(cudaStatus());
    expect(r.stderr).toContain(`comm ${gpu.possible ? 'nccl' : 'mpi'} (--comm auto: `);
    if (gpu.possible) return; // a GPU machine: the mpi checks below run in the next tests
    expect(JSON.parse(r.stdout)).toMatchObject({ RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '0', OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2', OMPI_MCA_btl_vader_single_copy_mechanism: 'none' });
    expect(prefixedEnv(r.stderr, 1)).toMatchObject({ RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '1' });
    expect(r.stderr).toContain('[rank 1] no newline at the end\n');
    await expectNoneLeft(r.pidDir, 2);
  });

  test('a rank killed with SIGKILL: exit 137 naming it, the others stopped, nothing left', async () => {
    const r = await launch(['--nproc-per-node', '3', '--comm', 'mpi', '--grace-period', '1'], 'fail', ['1', 'SIGKILL']);
    expect(r.code).toBe(137);
    expect(r.stderr).toContain('vit22b launch: rank 1 failed first: it was killed by SIGKILL');
    await expectNoneLeft(r.pidDir, 3);
  });

  test('SIGINT to the launcher stops mpirun and every rank; exit 130', async () => {
    const r = await launch(['--nproc-per-node', '2', '--comm', 'mpi', '--grace-period', '1'], 'wait', [], async (pid, dir) => {
      await waitForRanks(dir, 2);
      process.kill(pid, 'SIGINT');
    });
    expect(r.code).toBe(130);
    await expectNoneLeft(r.pidDir, 2);
  });
});

describe('usage', () => {
  test.each([
    [['--nproc-per-node', '2'], 'give the command to run after --'],
    [['--nproc-per-node', '0', '--', 'train'], '--nproc-per-node must be an integer from 1'],
    [['--', 'train'], '--nproc-per-node is required'],
    [['--nproc-per-node', '2', '--comm', 'gloo', '--', 'train'], '--comm must be auto, mpi, nccl or local'],
    [['--nproc-per-node', '2', '--nnodes', '2', '--', 'train'], '--nnodes above 1 needs --master-addr'],
    [['--nproc-per-node', '2', '--nnodes', '2', '--master-addr', 'h', '--comm', 'mpi', '--', 'train'], 'across machines, start the job with `mpirun'],
    [['--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '2', '--master-addr', 'h', '--', 'train'], '--node-rank must be an integer from 0 to 1'],
    [['--nproc-per-node', '2', '--grace-period', '0', '--', 'train'], '--grace-period must be'],
  ])('launch %j is refused: %s', async (args, message) => {
    const r = await cli(['launch', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain(message);
  });

  test('the help lists launch, not its internal rank shim', async () => {
    const r = await cli(['--help']);
    expect(r.out).toMatch(/\n {2}launch +start the ranks of a multi-process job/);
    expect(r.out).not.toContain('launch-rank');
  });
});
