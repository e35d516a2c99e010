/**
 * The `nccl` communicator (native/comm/nccl_communicator.cc, the file itself, not a copy) run on the
 * CPU: compiled with the system C++ compiler against the CUDA toolkit's headers, linked against a
 * host-emulated CUDA runtime instead of libcudart, and driven through a fake NCCL (a shared library
 * opened by cuda::loadNccl like the real libnccl.so.2) whose ranks are threads of one process.
 * test/native/nccl-fake/README.md says what is emulated and what this does not prove.
 *
 * Collective results are compared bit for bit with a reference computed in the harness in f64 from
 * the same inputs: the inputs are small integers times powers of two, so every partial sum is
 * exact in f32 and f64 and the only rounding a correct backend may do is the documented one (the
 * sum to the dtype, bf16 to nearest even; the scale 0.25 is exact). Tolerance: none.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT } from '../helpers/paths';

const run = promisify(execFile);
const FAKE = path.join(REPO_ROOT, 'test', 'native', 'nccl-fake');
const TIMEOUT_MS = 1000; // --comm-timeout of the failure scenarios (it also bounds their start-up: ample on a loaded CI machine)
const BOUND_MS = 5000; // "within the timeout plus slack": a deadline, not a speed claim

function findCudaInclude(): { dir?: string; tried: string[] } {
  const tried: string[] = [];
  if (process.env.CUDA_HOME) tried.push(path.join(process.env.CUDA_HOME, 'include'));
  try {
    const nvcc = execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).trim();
    if (nvcc) tried.push(path.join(path.dirname(path.dirname(nvcc)), 'include'), path.join(path.dirname(path.dirname(fs.realpathSync(nvcc))), 'include'));
  } catch {
    // no nvcc on PATH
  }
  tried.push('/usr/local/cuda/include');
  return { dir: tried.find((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h'))), tried };
}

const cuda = findCudaInclude();
const skip = !cuda.dir && process.env.VIT22B_SKIP_CUDA === '1';

let tmp: string;
let harness: string;
let fakeNccl: string;
let oldNccl: string;
let tsanHarness: string;
let tsanNccl: string;

/** Compiles the jobs two at a time (the CI machine has two cores). */
async function compileAll(jobs: string[][]): Promise<void> {
  const cxx = process.env.CXX ?? 'c++';
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const args = jobs[next++]!;
      try {
        await run(cxx, args, { maxBuffer: 16 << 20 });
      } catch (e: any) {
        throw new Error(`${cxx} ${args.join(' ')} failed:\n${e.stderr ?? e.message}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

beforeAll(async () => {
  if (!cuda.dir) {
    throw new Error(`the CUDA toolkit's headers (cuda_runtime_api.h) are not in any of ${cuda.tried.join(', ')}: install the CUDA toolkit (or set CUDA_HOME), or set VIT22B_SKIP_CUDA=1 to skip this test together with the CUDA addon`);
  }
  const cudaDir: string = cuda.dir;
  if (!fs.existsSync(path.join(REPO_ROOT, 'native', 'generated', 'kernels_gen.h'))) {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'gen-kernels.mjs')], { stdio: 'pipe' });
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-nccl-fake-'));
  // The addon's warning flags (CMakeLists.txt), as errors.
  const flags = ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-pthread', '-DVIT22B_WITH_CUDA=1', '-I', path.join(REPO_ROOT, 'native'), '-I', cudaDir, '-I', FAKE];
  const sources = [
    'native/comm/nccl_communicator.cc',
    'native/comm/nccl_mesh.cc',
    'native/comm/device_comms.cc',
    'native/comm/buffer_ops.cc',
    'native/cuda/vendor_libraries.cc',
    'native/cuda/dynamic_library.cc',
    'native/cuda/stream_scratch.cc',
    'native/core/status.cc',
    'native/core/dtype.cc',
    'native/cpu/axpby.cc',
    'native/cpu/strided_copy.cc',
    // The CUDA collective kernels: host code only (cuda/collective_comm.h), compiled as C++ below.
    'native/cuda/all_gather.cu',
    'native/cuda/reduce_scatter.cu',
    'native/cuda/all_reduce.cu',
    'native/cuda/collective_permute.cu',
    'native/cuda/axis_slice.cu',
    'native/cpu/thread_pool.cc',
    'native/cpu/cpu_features.cc',
    'test/native/nccl-fake/fake_cudart.cc',
    'test/native/nccl-fake/fake_kernels.cc',
    'test/native/nccl-fake/harness.cc',
  ];
  fs.mkdirSync(path.join(tmp, 'plain'));
  fs.mkdirSync(path.join(tmp, 'old'));
  fs.mkdirSync(path.join(tmp, 'tsan'));
  fakeNccl = path.join(tmp, 'plain', 'libnccl.so.2');
  oldNccl = path.join(tmp, 'old', 'libnccl.so.2');
  tsanNccl = path.join(tmp, 'tsan', 'libnccl.so.2');
  harness = path.join(tmp, 'plain', 'harness');
  tsanHarness = path.join(tmp, 'tsan', 'harness');
  // Two builds of everything: plain (the assertions) and under ThreadSanitizer (the threads of
  // the watchdog, the emulated streams and the ranks must not race).
  const variants = [
    { dir: 'plain', extra: [] as string[] },
    { dir: 'tsan', extra: ['-fsanitize=thread'] },
  ];
  const objectsOf = (dir: string) => sources.map((s) => path.join(tmp, dir, s.replace(/[/.]/g, '_') + '.o'));
  const lib = (out: string, extra: string[]) => ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', '-pthread', '-fPIC', '-shared', ...extra, '-I', cudaDir, '-I', FAKE, path.join(FAKE, 'fake_nccl.cc'), '-o', out];
  await compileAll([
    ...variants.flatMap((v) => sources.map((s, i) => [...flags, ...v.extra, ...(s.endsWith('.cu') ? ['-x', 'c++'] : []), '-c', path.join(REPO_ROOT, s), '-o', objectsOf(v.dir)[i]!])),
    lib(fakeNccl, []),
    lib(oldNccl, ['-DFAKE_NCCL_VERSION=21703']),
    lib(tsanNccl, ['-fsanitize=thread']),
  ]);
  // -rdynamic: the fake NCCL finds cudaLaunchHostFunc (the emulated runtime) in the executable.
  await compileAll(variants.map((v) => ['-rdynamic', '-pthread', ...v.extra, ...objectsOf(v.dir), '-o', path.join(tmp, v.dir, 'harness'), '-ldl']));
}, 240_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs one scenario; NCCL_COMM_ID as given (undefined: unset). */
async function scenario(name: string, args: Record<string, number>, opts: { commId?: string; lib?: string } = {}): Promise<any> {
  const env = { ...process.env };
  delete env.NCCL_COMM_ID;
  if (opts.commId) env.NCCL_COMM_ID = opts.commId;
  const argv = [opts.lib ?? fakeNccl, name, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)];
  let stdout: string;
  try {
    ({ stdout } = await run(harness, argv, { env, timeout: 30_000 }));
  } catch (e: any) {
    // A hang (the harness's own deadline) or a crash: say which, with what the harness printed.
    throw new Error(`harness ${name} ${JSON.stringify(args)} failed (exit ${e.code ?? e.signal}):\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const out = JSON.parse(stdout);
  expect(out.hung).toBeUndefined();
  expect(out.ncclLoaded).toBe(true);
  for (const r of out.ranks) expect(r.uncaught).toBeUndefined();
  return out;
}

const COMM_ID = '127.0.0.1:29500';

/**
 * Runs one scenario of the ThreadSanitizer build; the first race ends the process (exit 66) with
 * the report on stderr. A kernel whose address-space randomisation is wider than this GCC's TSan
 * expects makes it refuse to start ("unexpected memory mapping"): then it runs again with
 * randomisation off for that process (setarch -R).
 */
async function underTsan(name: string, args: Record<string, number>): Promise<{ code: number; stderr: string; hung?: string }> {
  const env = { ...process.env, NCCL_COMM_ID: COMM_ID, TSAN_OPTIONS: 'halt_on_error=1 exitcode=66' };
  const argv = [tsanHarness, tsanNccl, name, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)];
  const once = async (cmd: string[]) => {
    try {
      const { stdout, stderr } = await run(cmd[0]!, cmd.slice(1), { env, timeout: 60_000, maxBuffer: 16 << 20 });
      return { code: 0, stderr, hung: JSON.parse(stdout).hung as string | undefined };
    } catch (e: any) {
      return { code: typeof e.code === 'number' ? e.code : -1, stderr: String(e.stderr ?? e.message), hung: undefined };
    }
  };
  const first = await once(argv);
  if (!first.stderr.includes('FATAL: ThreadSanitizer')) return first;
  return once(['setarch', os.arch() === 'arm64' ? 'aarch64' : 'x86_64', '-R', ...argv]);
}

/** The case names harness.cc runs on one axis, in order. */
function casesOf(axis: 'data' | 'model'): string[] {
  const names: string[] = [];
  for (const dtype of ['f32', 'bf16']) {
    const p = `${axis} ${dtype} `;
    names.push(p + 'all_gather', p + 'reduce_scatter');
    for (const scale of ['1', '0.25']) names.push(`${p}all_reduce scale ${scale}`, `${p}all_reduce scale ${scale} in place`);
    for (const shift of ['1', '-1', '0', 'size']) names.push(`${p}permute shift ${shift}`);
  }
  return names;
}

/** Every communicator made was finalized and destroyed; nothing aborted, leaked or misused. */
function expectCleanEnd(counts: any, worldSize: number) {
  expect(counts.commsCreated).toBe(3 * worldSize); // the world and one split per mesh axis
  expect(counts.commsFinalized).toBe(3 * worldSize);
  expect(counts.commsDestroyed).toBe(3 * worldSize);
  expect(counts.commsAborted).toBe(0);
  expect(counts.destroyedUnfinalized).toBe(0);
  expect(counts.callsOnDeadComms).toBe(0);
  expect(counts.usageErrors).toBe(0);
  expect(counts.operationsAbandoned).toBe(0);
  expect(counts.operationsCompleted).toBe(counts.operationsEnqueued);
  expect(counts.eventsDestroyed).toBe(counts.eventsCreated);
  expect(counts.streamsDestroyed).toBe(counts.streamsCreated);
}

(skip ? describe.skip : describe)('the nccl communicator against a fake NCCL and an emulated CUDA runtime', () => {
  test.each([
    [2, 2],
    [1, 4],
    [4, 1],
    [1, 1],
  ])('a %i x %i mesh: every collective on each axis, f32 and bf16, equals the reference bit for bit; a clean end', async (data, model) => {
    // A world of one needs no NCCL_COMM_ID (and gets none here); several do.
    const worldSize = data * model;
    const out = await scenario('collectives', { data, model }, { commId: worldSize > 1 ? COMM_ID : undefined });
    const names = [...casesOf('data'), ...casesOf('model')];
    expect(out.ranks).toHaveLength(worldSize);
    for (const r of out.ranks) {
      expect(r.init).toEqual({ threw: false });
      expect(r.cases.map((c: any) => c.case)).toEqual(names);
      for (const c of r.cases) {
        expect({ case: c.case, threw: c.threw, error: c.error }).toEqual({ case: c.case });
        expect(c.elements).toBeGreaterThan(0);
        expect({ case: c.case, mismatches: c.mismatches }).toEqual({ case: c.case, mismatches: 0 });
      }
      expect(r.checkAfter).toEqual({ threw: false });
      // NcclMesh's host gather (the step outputs' path), empty ones included, then a mesh step.
      expect(r.gather).toEqual({ threw: false });
      expect(r.gatherWrong).toBe(0);
      expect(r.stepFailed).toBe(false);
      const d = Math.floor(r.rank / model);
      let groupSum = 0;
      for (let k = 0; k < model; k++) groupSum += d * model + k + 1;
      expect(r.stepSum0).toBe(groupSum);
    }
    // Each collective is one NCCL operation per rank; a permute onto this rank itself (shift 0,
    // the axis size, or any shift on an axis of one) is a local copy that never reaches NCCL.
    const size = { data, model };
    const expected = names.map((name) => {
      const [axis, , op, , shift] = name.split(' ') as ['data' | 'model', string, string, string, string];
      const n = size[axis];
      const local = op === 'permute' && (shift === '0' || shift === 'size' || n === 1);
      return { case: name, ncclOperations: local ? 0 : worldSize };
    });
    expect(out.ncclOperationsPerCase).toEqual(expected);
    // Every enqueued collective was followed by the watchdog through one event.
    expect(out.counts.eventsRecorded).toBe(out.counts.operationsEnqueued);
    expectCleanEnd(out.counts, worldSize);
  });

  test.each([
    [2, 2],
    [1, 2],
    [4, 1],
  ])('the CUDA collective kernels (native/cuda/*.cu) on a %i x %i NCCL mesh: each over each axis equals the reference; ranks 1 on an axis of several is refused', async (data, model) => {
    const out = await scenario('kernels', { data, model }, { commId: COMM_ID });
    const size = { data, model };
    expect(out.ranks).toHaveLength(data * model);
    for (const r of out.ranks) {
      expect(r.init).toEqual({ threw: false });
      expect(r.cases.map((c: any) => c.case)).toEqual(['data', 'model'].flatMap((ax) => ['all_gather', 'reduce_scatter', 'all_reduce scale 0.5 in place', 'collective_permute shift 1', 'axis_slice'].map((k) => `${ax} ${k}`)));
      for (const c of r.cases) expect({ case: c.case, mismatches: c.mismatches, some: c.elements > 0 }).toEqual({ case: c.case, mismatches: 0, some: true });
      for (const ax of ['data', 'model'] as const) {
        expect(r[ax]).toEqual({ stepFailed: false, stepError: '' });
        if (size[ax] === 1) {
          expect(r[`${ax}RanksOne`]).toEqual({ threw: false }); // an axis of one: a device copy
        } else {
          expect(r[`${ax}RanksOne`].code).toBe('ERR_INVALID_ARGUMENT');
          expect(r[`${ax}RanksOne`].message).toContain(`all_gather says ranks 1, but the '${ax}' axis of rank ${r.rank} (`);
        }
      }
    }
  });

  test("a mesh step whose all_reduce a rank never joins fails with the world's ERR_COMM_TIMEOUT, though the aborted stream drained without a CUDA error", async () => {
    const out = await scenario('mesh-step-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 1 }, { commId: COMM_ID });
    // Rank 1 (data 0, model 1) never calls; its model peer is rank 0; ranks 2 and 3 wait apart.
    const peer = out.ranks[0];
    expect(peer.init).toEqual({ threw: false });
    expect(peer.bodyReturned).toBe(true); // the body itself saw nothing wrong
    expect(peer.failed).toBe(true);
    expect(peer.code).toBe('ERR_COMM_TIMEOUT');
    expect(peer.message).toMatch(/^rank 0 \(data 0, model 0\): all_reduce on mesh axis 'model' at rank 0 \(data 0, model 0\) \(axis rank 0 of 2\), run 7: /);
    // Later steps and host gathers throw the same stored failure (the world is not revived).
    expect(peer.nextCode).toBe('ERR_COMM_TIMEOUT');
    expect(peer.nextBodyRan).toBeUndefined();
    expect(peer.gatherAfter.code).toBe('ERR_COMM_TIMEOUT');
    for (const r of out.ranks.slice(1)) expect(r.failed).toBeUndefined();
  });

  test('several ranks without NCCL_COMM_ID: ERR_INVALID_ARGUMENT before any NCCL call', async () => {
    const out = await scenario('init', { data: 2, model: 2 });
    for (const r of out.ranks) {
      expect(r.init.code).toBe('ERR_INVALID_ARGUMENT');
      expect(r.init.message).toContain('NCCL_COMM_ID');
    }
    expect(out.counts.commsCreated).toBe(0);
  });

  test('an NCCL older than 2.18: ERR_LIBRARY_NOT_FOUND naming the version', async () => {
    const out = await scenario('init', { data: 1, model: 1 }, { lib: oldNccl });
    expect(out.ncclVersion).toBe('2.17.3');
    expect(out.ranks[0].init.code).toBe('ERR_LIBRARY_NOT_FOUND');
    expect(out.ranks[0].init.message).toContain('2.17.3');
    expect(out.ranks[0].init.message).toContain('older than 2.18.0');
    expect(out.counts.commsCreated).toBe(0);
  });

  test('a rank that never joins the start-up: the others get ERR_COMM_TIMEOUT within the timeout plus slack', async () => {
    const out = await scenario('init-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 3 }, { commId: COMM_ID });
    for (const r of out.ranks.slice(0, 3)) {
      expect(r.init.code).toBe('ERR_COMM_TIMEOUT');
      expect(r.init.message).toContain('ncclCommInitRankConfig');
      expect(r.init.message).toContain(`at rank ${r.rank} (`);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(r.elapsedMs).toBeLessThan(BOUND_MS);
    }
    expect(out.ranks[3].init).toBeUndefined();
    // Each waiting rank aborted its half-made world communicator.
    expect(out.counts.commsCreated).toBe(3);
    expect(out.counts.commsAborted).toBe(3);
    expect(out.counts.callsOnDeadComms).toBe(0);
  });

  test("a rank that never calls all_reduce over 'model': its peer's watchdog aborts, the stream drains, ERR_COMM_TIMEOUT names the call", async () => {
    const out = await scenario('collective-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 1 }, { commId: COMM_ID });
    for (const r of out.ranks) expect(r.warmUp.mismatches).toBe(0);
    const peer = out.ranks[0]; // rank 1's model group: ranks 0 and 1
    expect(peer.peerOfMissing).toBe(true);
    expect(peer.call).toEqual({ threw: false }); // enqueued; it waits on the stream, not in the call
    // The operation waited on the stream for rank 1 until the watchdog's ncclCommAbort ended it.
    expect(peer.streamDrained).toBe(true);
    expect(peer.drainedAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(peer.drainedAfterMs).toBeLessThan(BOUND_MS);
    expect(peer.streamSynchronize).toBe(0);
    expect(peer.check.code).toBe('ERR_COMM_TIMEOUT');
    for (const part of ['all_reduce', "mesh axis 'model'", 'rank 0 (data 0, model 0)', 'run 2']) expect(peer.check.message).toContain(part);
    // The next call, and one after a plain abort(), throw the stored failure first.
    expect(peer.nextCall).toEqual(peer.check);
    expect(peer.afterAbort).toEqual(peer.check);
    // The other model group (ranks 2 and 3) is untouched: its all_reduce summed two 1.0s.
    for (const r of out.ranks.slice(2)) {
      expect(r.peerOfMissing).toBe(false);
      expect(r.check).toEqual({ threw: false });
      expect(r.sum0).toBe(2);
    }
    for (const r of out.ranks) expect(r.streamIdleAtEnd).toBe(true);
    expect(out.counts.operationsAbandoned).toBe(1);
    expect(out.counts.callsOnDeadComms).toBe(0);
    expect(out.counts.eventsDestroyed).toBe(out.counts.eventsCreated);
    // Every communicator ended: destroyed after a finalize, or aborted (the failed world, and the
    // worlds whose finalize could not complete with rank 0 gone).
    expect(out.counts.commsDestroyed + out.counts.commsAborted).toBe(out.counts.commsCreated);
  });

  test('an asynchronous ncclRemoteError: ERR_COMM_PEER_LOST from check() and from the next call', async () => {
    const out = await scenario('peer-lost', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, victim: 0 }, { commId: COMM_ID });
    const victim = out.ranks[0];
    expect(victim.check.code).toBe('ERR_COMM_PEER_LOST');
    expect(victim.check.message).toContain('rank 0 (data 0, model 0)');
    // Injected on the data axis's communicator, with nothing pending: that communicator is named.
    expect(victim.check.message).toContain("the NCCL communicator of mesh axis 'data' at rank 0 (data 0, model 0), with no collective of it pending");
    expect(victim.detectedAfterMs).toBeLessThan(BOUND_MS);
    expect(victim.nextCall.code).toBe('ERR_COMM_PEER_LOST');
    expect(out.counts.callsOnDeadComms).toBe(0);
    expect(out.counts.commsDestroyed + out.counts.commsAborted).toBe(out.counts.commsCreated);
  });

  test('a peer lost while the rank keeps enqueueing: each call enqueues or throws ERR_COMM_PEER_LOST; the abort ends every waiting operation', async () => {
    const out = await scenario('peer-lost-while-calling', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, victim: 0 }, { commId: COMM_ID });
    const victim = out.ranks[0];
    expect(victim.callsEnqueued).toBeGreaterThanOrEqual(3); // the error is injected after the third
    expect(victim.firstThrow.code).toBe('ERR_COMM_PEER_LOST');
    expect(victim.detectedAfterMs).toBeLessThan(BOUND_MS);
    expect(victim.streamDrained).toBe(true);
    expect(victim.check.code).toBe('ERR_COMM_PEER_LOST');
    // The error is on the model axis while all_reduces wait on the data axis: the model axis is
    // named, not a collective of the other communicator.
    expect(victim.check.message).toContain("the NCCL communicator of mesh axis 'model'");
    expect(victim.check.message).not.toContain("all_reduce on mesh axis 'data'");
    // Every enqueued all_reduce waited for rank 2 (which never calls) until the abort ended it. (A
    // call may also enqueue and then throw: the watchdog can fail the world while that call polls
    // its launch; so the library's count, not the calls that returned, is what must all end.)
    expect(out.counts.operationsEnqueued).toBeGreaterThanOrEqual(victim.callsEnqueued);
    expect(out.counts.operationsAbandoned).toBe(out.counts.operationsEnqueued);
    expect(out.counts.operationsCompleted).toBe(0);
    expect(out.counts.callsOnDeadComms).toBe(0);
    expect(out.counts.eventsDestroyed).toBe(out.counts.eventsCreated);
  });

  test('after a plain abort(): ERR_COLLECTIVE_ABORTED, no stored failure, nothing finalized', async () => {
    const out = await scenario('abort', { data: 2, model: 2 }, { commId: COMM_ID });
    for (const r of out.ranks) {
      expect(r.nextCall.code).toBe('ERR_COLLECTIVE_ABORTED');
      expect(r.reset).toEqual({ threw: false });
    }
    expect(out.counts.commsAborted).toBe(12);
    expect(out.counts.commsFinalized).toBe(0);
    expect(out.counts.callsOnDeadComms).toBe(0);
  });

  test('under graph capture: the collective is enqueued, no event is tracked; the replay sums right', async () => {
    const out = await scenario('capture', { data: 2, model: 2 }, { commId: COMM_ID });
    expect(out.ncclOperationsDuringCapture).toBe(4);
    expect(out.eventsCreatedDuringCapture).toBe(0);
    expect(out.eventsRecordedDuringCapture).toBe(0);
    for (const r of out.ranks) {
      expect(r.call).toEqual({ threw: false });
      expect(r.whileCaptured0).toBe(r.rank + 1); // recorded, not run
      expect(r.replayDrained).toBe(true);
      expect(r.replayMismatches).toBe(0);
    }
    expectCleanEnd(out.counts, 4);
  });

  test('no data race: the threaded scenarios under ThreadSanitizer report nothing', async () => {
    const runs: [string, Record<string, number>][] = [
      ['collectives', { data: 2, model: 2 }],
      ['init-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 3 }],
      ['collective-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 1 }],
      ['mesh-step-missing-rank', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, missing: 1 }],
      ['peer-lost', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, victim: 0 }],
      ['peer-lost-while-calling', { data: 2, model: 2, timeoutMs: TIMEOUT_MS, victim: 0 }],
      ['abort', { data: 2, model: 2 }],
      ['capture', { data: 2, model: 2 }],
    ];
    // Two at a time (two cores; most of each run is TSan's start-up).
    const results: { scenario: string; exit: number; race: string | null; hung?: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < runs.length) {
        const [name, args] = runs[next++]!;
        const r = await underTsan(name, args);
        const race = /WARNING: ThreadSanitizer[^\n]*(\n.*){0,12}/.exec(r.stderr)?.[0] ?? null;
        results.push({ scenario: name, exit: r.code, race, hung: r.hung });
      }
    };
    await Promise.all([worker(), worker()]);
    expect(results).toHaveLength(runs.length);
    for (const r of results) expect(r).toEqual({ scenario: r.scenario, exit: 0, race: null, hung: undefined });
  });
});
