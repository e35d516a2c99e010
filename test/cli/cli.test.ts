// The `vit22b` CLI, in-process (run() with a capturing CliIO) and as users run it (node dist/cli.js).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { CliIO } from '../../lib/cli/io';
import { run } from '../../lib/cli/run';
import { DIST_CLI, REPO_ROOT } from '../helpers/paths';

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS = ['train', 'eval', 'predict', 'export', 'grad', 'probe', 'fewshot', 'study', 'bench', 'plan', 'launch', 'info'];
const UNAVAILABLE_CODES = ['no-driver', 'driver-too-old', 'no-device', 'unsupported-device', 'error', 'addon-missing', 'cublaslt-missing'];
// Independent of vit22b: without the NVIDIA kernel driver, CUDA cannot be available.
const NO_NVIDIA_DRIVER = !fs.existsSync('/proc/driver/nvidia/version');

interface Result {
  code: number;
  out: string;
  err: string;
}

async function runInProcess(args: string[]): Promise<Result> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await run(args, io);
  return { code, out, err };
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Result {
  const r = spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  if (r.error) throw r.error;
  expect(r.signal).toBeNull();
  return { code: r.status!, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  // The user-facing tests run the build; `npm test` builds it first (pretest).
  expect(fs.existsSync(DIST_CLI)).toBe(true);
});

// Both ways of running must behave the same; each test runs its arguments both ways.
const modes: [string, (args: string[]) => Promise<Result> | Result][] = [
  ['in-process', runInProcess],
  ['node dist/cli.js', runCli],
];

describe.each(modes)('%s', (_mode, cli) => {
  test('--help (and -h, help, no arguments) lists every command and the doctor alias', async () => {
    for (const args of [['--help'], ['-h'], ['help'], []]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.err).toBe('');
      const listed = r.out
        .split('\n')
        .map((l) => /^ {2}(\w+)\b/.exec(l)?.[1])
        .filter((w): w is string => w !== undefined);
      expect(listed).toEqual(COMMANDS);
      expect(r.out).toMatch(/^ {2}info \(doctor\) /m);
      expect(r.out).toContain(PACKAGE_VERSION);
    }
  });

  test("--version and -v print package.json's version", async () => {
    for (const flag of ['--version', '-v']) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${PACKAGE_VERSION}\n`);
    }
  });

  test('an unknown command exits 2 with ERR_USAGE naming it', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain("'frobnicate'");
    expect(r.err).toMatch(/received: frobnicate/);
    const j = await cli(['frobnicate', '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out)).toMatchObject({ error: { code: 'ERR_USAGE', received: 'frobnicate' } });
  });

  test('info with an unknown option exits 2 with ERR_USAGE and the usage', async () => {
    const r = await cli(['info', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain('--bogus');
    expect(r.err).toMatch(/usage: vit22b info/);
  });

  test('info --device with an unknown kind is a usage error (exit 2), not a device failure', async () => {
    const r = await cli(['info', '--device', 'tpu']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain('tpu');
  });

  test('bench gemm --json measures the requested shape on the CPU', async () => {
    const r = await cli(['bench', 'gemm', '--m', '33', '--n', '17', '--k', '65', '--dtype', 'bf16', '--device', 'cpu', '--seconds', '0.05', '--json']);
    expect(r.code).toBe(0);
    const b = JSON.parse(r.out) as Record<string, unknown>;
    expect(b).toMatchObject({ kernel: 'gemm', m: 33, n: 17, k: 65, dtype: 'bf16', transA: false, transB: false });
    expect(b.device).toMatch(/^cpu /);
    expect(b.gflops as number).toBeGreaterThan(0);
    expect(b.calls as number).toBeGreaterThanOrEqual(3);
    // GFLOP/s and the median time must describe the same measurement.
    expect(b.gflops as number).toBeCloseTo((2 * 33 * 17 * 65) / (b.medianSeconds as number) / 1e9, 6);
  });

  test.each([
    [['bench'], 'which benchmark'],
    [['bench', 'conv'], 'conv'],
    [['bench', 'gemm', '--m', '0', '--n', '1', '--k', '1'], '--m'],
    [['bench', 'gemm', '--m', '2', '--n', '2', '--k', '2', '--dtype', 'f16'], 'f16'],
    [['bench', 'gemm', '--m', '2', '--n', '2', '--k', '2', '--device', 'tpu'], 'tpu'],
  ])('bench %j is a usage error', async (args, mention) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_USAGE');
    expect(r.err).toContain(mention);
  });

  test('info --json describes the package, addon, CPU, CUDA and the default device', async () => {
    const r = await cli(['info', '--json']);
    expect(r.code).toBe(0);
    checkInfo(JSON.parse(r.out));
  });

  test('doctor --json is the same report', async () => {
    const info = JSON.parse((await cli(['info', '--json'])).out) as Record<string, unknown>;
    const doctor = await cli(['doctor', '--json']);
    expect(doctor.code).toBe(0);
    const d = JSON.parse(doctor.out) as Record<string, unknown>;
    expect(keyPaths(d)).toEqual(keyPaths(info));
    expect(d).toEqual(info);
  });

  test('info --device cpu --json succeeds; info --device cuda fails with ERR_CUDA_UNAVAILABLE exactly when CUDA is unavailable', async () => {
    expect((await cli(['info', '--device', 'cpu', '--json'])).code).toBe(0);
    const info = JSON.parse((await cli(['info', '--json'])).out) as InfoJson;
    const r = await cli(['info', '--device', 'cuda', '--json']);
    if (info.cuda.available) {
      expect(r.code).toBe(0);
      return;
    }
    expect(r.code).toBe(1);
    const body = JSON.parse(r.out) as { error: Record<string, unknown> };
    expect(body.error.code).toBe('ERR_CUDA_UNAVAILABLE');
    expect(body.error.received).toBe(info.cuda.reasonCode);
    expect(String(body.error.message)).toContain(info.cuda.reason!);
    expect(typeof body.error.expected).toBe('string');
  });

  test('human info names CUDA and its state', async () => {
    const r = await cli(['info']);
    const info = JSON.parse((await cli(['info', '--json'])).out) as InfoJson;
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^CUDA$/m);
    if (info.cuda.available) {
      expect(r.out).toMatch(/status\s+available/);
    } else {
      expect(r.out).toMatch(/status\s+unavailable: /);
      expect(r.out).toContain(info.cuda.reason!);
    }
    expect(r.out).toContain(PACKAGE_VERSION);
    expect(r.out).toContain(info.addon.loaded!.path);
    expect(r.out).toMatch(/self-test\s+ok/);
  });
});

test('human info --device cuda reports the error on stderr when CUDA is unavailable', () => {
  const info = JSON.parse(runCli(['info', '--json']).out) as InfoJson;
  const r = runCli(['info', '--device', 'cuda']);
  if (info.cuda.available) {
    expect(r.code).toBe(0);
    return;
  }
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/ERR_CUDA_UNAVAILABLE/);
  expect(r.err).toMatch(/expected: /);
  expect(r.err).toMatch(new RegExp(`received: ${info.cuda.reasonCode}`));
});

// ------------------------------------------------------------------------------------------------

interface LibJson {
  found: boolean;
  path?: string;
  version?: string;
  reason?: string;
  searched: string[];
  failures: unknown[];
}

interface InfoJson {
  package: { name: string; version: string };
  node: { version: string; napi: string; platform: string };
  addon: { loaded: { variant: string; path: string; build: { variant: string } } | null; candidates: { variant: string; path: string; status: string }[] };
  cpu: { vendor: string; model: string; threads: number; features: Record<string, unknown> } | null;
  cuda: {
    available: boolean;
    reasonCode?: string;
    reason?: string;
    driverVersion: string | null;
    devices: unknown[];
    cublasLt: LibJson;
    nccl: LibJson;
  };
  multiProcessGpu: { possible: boolean; reason: string };
  defaultDevice: { kind: string; name: string; reason: string } | null;
  selfTest: { ok: boolean; device?: string; maxAbsError?: number };
}

function checkInfo(info: InfoJson): void {
  expect(info.package).toEqual({ name: 'vit22b', version: PACKAGE_VERSION });
  expect(info.node.version).toBe(process.version);

  expect(info.addon.loaded).not.toBeNull();
  expect(fs.statSync(info.addon.loaded!.path).isFile()).toBe(true);
  expect(info.addon.loaded!.build.variant).toBe(info.addon.loaded!.variant);
  expect(Array.isArray(info.addon.candidates)).toBe(true);
  // Every candidate of both addons is listed, the loaded one among them.
  expect(info.addon.candidates.length).toBe(4);
  expect(info.addon.candidates.filter((c) => c.path === info.addon.loaded!.path && c.status === 'loaded')).toHaveLength(1);

  expect(typeof info.cpu!.model).toBe('string');
  expect(info.cpu!.model.length).toBeGreaterThan(0);
  expect(info.cpu!.threads).toBeGreaterThanOrEqual(1);
  expect(Number.isInteger(info.cpu!.threads)).toBe(true);
  for (const f of ['avx2', 'fma', 'avx512f', 'avx512bf16']) expect(typeof info.cpu!.features[f]).toBe('boolean');

  const cuda = info.cuda;
  expect(typeof cuda.available).toBe('boolean');
  expect(Array.isArray(cuda.devices)).toBe(true);
  for (const lib of [cuda.cublasLt, cuda.nccl]) {
    expect(typeof lib.found).toBe('boolean');
    expect(Array.isArray(lib.searched)).toBe(true);
    if (lib.found) {
      expect(fs.existsSync(lib.path!)).toBe(true);
      expect(lib.version).toMatch(/^\d+\.\d+\.\d+$/);
    } else {
      expect(lib.reason!.length).toBeGreaterThan(0);
      // With the CUDA addon present, the search always covers at least the system folders.
      if (cuda.reasonCode !== 'addon-missing') expect(lib.searched.length).toBeGreaterThan(0);
    }
  }

  // One process per GPU over NCCL: a GPU and NCCL 2.18 or newer, each missing piece named.
  const multi = info.multiProcessGpu;
  const [major, minor] = (cuda.nccl.version ?? '0.0').split('.').map(Number) as [number, number];
  const ncclRecent = cuda.nccl.found && (major > 2 || (major === 2 && minor >= 18));
  expect(multi.possible).toBe(cuda.available && cuda.devices.length > 0 && ncclRecent);
  if (!cuda.nccl.found) expect(multi.reason).toContain(`no NCCL library (${cuda.nccl.reason})`);
  if (!cuda.available) expect(multi.reason).toContain('no usable GPU');
  if (multi.possible) expect(multi.reason).toContain(`NCCL ${cuda.nccl.version}`);

  if (NO_NVIDIA_DRIVER) expect(cuda.available).toBe(false);
  if (cuda.available) {
    expect(cuda.devices.length).toBeGreaterThan(0);
    expect(cuda.cublasLt.found).toBe(true);
    expect(info.defaultDevice!.kind).toBe('cuda');
  } else {
    expect(cuda.reason!.length).toBeGreaterThan(0);
    expect(UNAVAILABLE_CODES).toContain(cuda.reasonCode);
    expect(info.defaultDevice!.kind).toBe('cpu');
    expect(info.defaultDevice!.reason).toMatch(/CUDA/);
    expect(info.defaultDevice!.reason).toContain(cuda.reason!);
  }

  expect(info.selfTest.ok).toBe(true);
  expect(info.selfTest.device).toBe(info.defaultDevice!.name);
  expect(info.selfTest.maxAbsError).toBeLessThanOrEqual(1e-5);
}

/** Every key path in a JSON value ("a.b.c"), array elements' keys under "[]": the report's shape. */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return [...new Set(v.flatMap((x) => keyPaths(x, `${prefix}[].`)))].sort();
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>)
    .flatMap(([k, x]) => [prefix + k, ...keyPaths(x, `${prefix}${k}.`)])
    .sort();
}

describe('info reports the CPU code path the kernels use', () => {
  test('the dispatch level follows the CPU features, capped by VIT22B_CPU_ISA; threads by VIT22B_NUM_THREADS', () => {
    const plain = runCli(['info', '--json']);
    expect(plain.code).toBe(0);
    const cpu = (JSON.parse(plain.out) as { cpu: { features: Record<string, boolean>; kernelIsa: string; kernelThreads: number } }).cpu;
    const f = cpu.features;
    const best = f.avx512bf16 && f.avx512f ? 'avx512bf16' : f.avx512f && f.avx512bw && f.avx512vl ? 'avx512' : f.avx2 && f.fma ? 'avx2' : 'scalar';
    expect(cpu.kernelIsa).toBe(best);
    expect(cpu.kernelThreads).toBeGreaterThanOrEqual(1);

    const capped = runCli(['info', '--json'], { ...process.env, VIT22B_CPU_ISA: 'scalar', VIT22B_NUM_THREADS: '1' });
    expect(capped.code).toBe(0);
    expect(JSON.parse(capped.out).cpu).toMatchObject({ kernelIsa: 'scalar', kernelThreads: 1 });
  });

  test('a bad VIT22B_CPU_ISA is reported, not a crash', () => {
    const r = runCli(['info', '--json'], { ...process.env, VIT22B_CPU_ISA: 'sse9' });
    expect(r.code).toBe(1); // the CPU kernels cannot run with this setting: the doctor fails
    const info = JSON.parse(r.out) as { cpu: unknown; cpuError: string };
    expect(info.cpu).toBeNull();
    expect(info.cpuError).toMatch(/^ERR_INVALID_ARGUMENT: .*sse9/);
  });
});
