// lib/runtime/library-search.ts with a fake environment and a temporary folder tree, then the CUDA
// addon's loadCublasLt / loadNccl on fake libraries compiled here with g++.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { addonCandidates } from '../../lib/runtime/addon-loader';
import { pythonSitePackages, searchLibrary, searchLocations } from '../../lib/runtime/library-search';
import type { NativeVendorLoad } from '../../lib/runtime/native-types';
import { DIST_CLI } from '../helpers/paths';

// The system folders the module documents (step 4 of its search order), in order.
const SYSTEM_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
];
const LDCONFIG = 'system: the dynamic linker cache (ldconfig -p)';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vit22b-libsearch-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function touch(file: string, mode = 0o644): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.chmodSync(file, mode);
  return file;
}

/** A bare soname is a candidate without a folder: ld.so searches for it itself. */
const isSoname = (c: string): boolean => !c.includes('/');
/** Python wheel candidates sit in <site>/nvidia/<package>/lib/. */
const isPython = (c: string): boolean => /\/(site|dist)-packages\/nvidia\/[^/]+\/lib\/[^/]+$/.test(c);

describe('searchLibrary with a fake environment', () => {
  // The tree, built once:
  //   vlibs/      libcublasLt.so.12, libnccl.so.2       (a VIT22B_CUDA_LIBS folder)
  //   explicit/   libcublasLt.so.13, libnccl.so.2       (VIT22B_CUDA_LIBS files, taken as is)
  //   ld1/        libcublasLt.so.13, libcublasLt.so, libcublasLt.so.12/ (a folder: not a candidate)
  //   ld-empty/                                         (exists, holds nothing)
  //   ld-missing                                        (does not exist)
  //   cuda/lib64/libcublasLt.so.13, cuda/targets/x86_64-linux/lib/libnccl.so.2   (CUDA_HOME)
  //   venv/bin/python3, venv/lib/python3.12/site-packages/nvidia/{cu13,nccl}/lib/...
  let d: Record<string, string>;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    const at = (...p: string[]): string => path.join(tmp, 'tree', ...p);
    d = {
      vlibs: at('vlibs'),
      explicitCublas: at('explicit', 'libcublasLt.so.13'),
      explicitNccl: at('explicit', 'libnccl.so.2'),
      ld1: at('ld1'),
      ldEmpty: at('ld-empty'),
      ldMissing: at('ld-missing'),
      cudaHome: at('cuda'),
      venv: at('venv'),
      site: at('venv', 'lib', 'python3.12', 'site-packages'),
    };
    touch(path.join(d.vlibs!, 'libcublasLt.so.12'));
    touch(path.join(d.vlibs!, 'libnccl.so.2'));
    touch(d.explicitCublas!);
    touch(d.explicitNccl!);
    touch(path.join(d.ld1!, 'libcublasLt.so.13'));
    touch(path.join(d.ld1!, 'libcublasLt.so'));
    fs.mkdirSync(path.join(d.ld1!, 'libcublasLt.so.12'), { recursive: true });
    fs.mkdirSync(d.ldEmpty!, { recursive: true });
    touch(path.join(d.cudaHome!, 'lib64', 'libcublasLt.so.13'));
    touch(path.join(d.cudaHome!, 'targets', 'x86_64-linux', 'lib', 'libnccl.so.2'));
    touch(path.join(d.venv!, 'bin', 'python3'), 0o755);
    touch(path.join(d.site!, 'nvidia', 'cu13', 'lib', 'libcublasLt.so.13'));
    touch(path.join(d.site!, 'nvidia', 'nccl', 'lib', 'libnccl.so.2'));
    // Not process.env: the module must read only what it is given.
    env = {
      VIT22B_CUDA_LIBS: [d.vlibs, d.explicitCublas, d.explicitNccl].join(':'),
      LD_LIBRARY_PATH: [d.ld1, '', d.ldMissing, d.ldEmpty].join(':'),
      CUDA_HOME: d.cudaHome,
      PATH: [path.join(d.venv!, 'bin'), path.join(tmp, 'no-such-bin')].join(':'),
    };
  });

  const pyLib = (pkg: string, file: string): string => path.join(d.site!, 'nvidia', pkg, 'lib', file);

  test('cuBLASLt candidates: VIT22B_CUDA_LIBS, LD_LIBRARY_PATH, CUDA_HOME, sonames, then Python', () => {
    const s = searchLibrary('cublasLt', env);
    expect(s.library).toBe('cublasLt');
    // Real system folders may hold real libraries on some machines: compare only what lies in our
    // tree, plus the bare sonames.
    const ours = s.candidates.filter((c) => c.startsWith(tmp + path.sep) || isSoname(c));
    expect(ours).toEqual([
      path.join(d.vlibs!, 'libcublasLt.so.12'),
      d.explicitCublas, // a file entry is taken as is; the libnccl file entry is not cuBLASLt
      path.join(d.ld1!, 'libcublasLt.so.13'), // newest major first within a folder
      path.join(d.ld1!, 'libcublasLt.so'),
      path.join(d.cudaHome!, 'lib64', 'libcublasLt.so.13'),
      'libcublasLt.so.13',
      'libcublasLt.so.12',
      'libcublasLt.so',
      pyLib('cu13', 'libcublasLt.so.13'),
    ]);
  });

  test('NCCL candidates follow the same order', () => {
    const s = searchLibrary('nccl', env);
    const ours = s.candidates.filter((c) => c.startsWith(tmp + path.sep) || isSoname(c));
    expect(ours).toEqual([
      path.join(d.vlibs!, 'libnccl.so.2'),
      d.explicitNccl,
      path.join(d.cudaHome!, 'targets', 'x86_64-linux', 'lib', 'libnccl.so.2'),
      'libnccl.so.2',
      'libnccl.so',
      pyLib('nccl', 'libnccl.so.2'),
    ]);
  });

  test('every candidate with a folder is an existing file; no duplicates', () => {
    for (const lib of ['cublasLt', 'nccl'] as const) {
      const s = searchLibrary(lib, env);
      expect(new Set(s.candidates).size).toBe(s.candidates.length);
      for (const c of s.candidates.filter((x) => !isSoname(x))) expect(fs.statSync(c).isFile()).toBe(true);
      // The folder named like a library and the missing folder contributed nothing.
      expect(s.candidates).not.toContain(path.join(d.ld1!, 'libcublasLt.so.12'));
      expect(s.candidates.some((c) => c.startsWith(d.ldMissing!) || c.startsWith(d.ldEmpty!))).toBe(false);
    }
  });

  test('bare sonames come after every system-folder candidate and before every Python one', () => {
    for (const lib of ['cublasLt', 'nccl'] as const) {
      const c = searchLibrary(lib, env).candidates;
      const sonameIdx = c.flatMap((x, i) => (isSoname(x) ? [i] : []));
      expect(sonameIdx.length).toBeGreaterThan(0);
      // Contiguous block.
      expect(sonameIdx).toEqual(sonameIdx.map((_, k) => sonameIdx[0]! + k));
      c.forEach((x, i) => {
        if (isSoname(x)) return;
        if (isPython(x)) expect(i).toBeGreaterThan(sonameIdx[sonameIdx.length - 1]!);
        else expect(i).toBeLessThan(sonameIdx[0]!);
      });
    }
  });

  test('`searched` lists every folder looked in, in order, missing and empty ones included', () => {
    const s = searchLibrary('cublasLt', env);
    const fixed = [
      `VIT22B_CUDA_LIBS: ${d.vlibs}`,
      `VIT22B_CUDA_LIBS: ${d.explicitCublas}`,
      `VIT22B_CUDA_LIBS: ${d.explicitNccl}`,
      `LD_LIBRARY_PATH: ${d.ld1}`, // the empty entry between ':'s is dropped
      `LD_LIBRARY_PATH: ${d.ldMissing}`,
      `LD_LIBRARY_PATH: ${d.ldEmpty}`,
      `CUDA_HOME: ${path.join(d.cudaHome!, 'lib64')}`,
      `CUDA_HOME: ${path.join(d.cudaHome!, 'lib')}`,
      `CUDA_HOME: ${path.join(d.cudaHome!, 'targets', 'x86_64-linux', 'lib')}`,
      ...SYSTEM_DIRS.map((dir) => `system: ${dir}`),
      LDCONFIG,
    ];
    expect(s.searched.slice(0, fixed.length)).toEqual(fixed);
    // Then Python: our venv first (it is the only python3 on PATH), one entry per nvidia package,
    // whichever library is being looked for.
    const python = s.searched.slice(fixed.length);
    expect(python.slice(0, 2).sort()).toEqual(
      [`python: ${path.join(d.site!, 'nvidia', 'cu13', 'lib')}`, `python: ${path.join(d.site!, 'nvidia', 'nccl', 'lib')}`].sort(),
    );
    for (const entry of python) expect(entry).toMatch(/^python: /);
    // The NCCL search looks in the same places.
    expect(searchLibrary('nccl', env).searched).toEqual(s.searched);
  });

  test('CUDA_PATH is searched after CUDA_HOME', () => {
    const cudaPath = path.join(tmp, 'tree', 'cuda-path');
    touch(path.join(cudaPath, 'lib', 'libcublasLt.so.12'));
    const s = searchLibrary('cublasLt', { CUDA_HOME: d.cudaHome, CUDA_PATH: cudaPath, PATH: '' });
    const ours = s.candidates.filter((c) => c.startsWith(tmp + path.sep));
    expect(ours).toEqual([path.join(d.cudaHome!, 'lib64', 'libcublasLt.so.13'), path.join(cudaPath, 'lib', 'libcublasLt.so.12')]);
    const sources = s.searched.map((x) => x.split(':')[0]);
    expect(sources.lastIndexOf('CUDA_HOME')).toBeLessThan(sources.indexOf('CUDA_PATH'));
  });

  test('an empty environment still searches the system and ld.so, and nothing of ours', () => {
    const s = searchLibrary('nccl', {});
    expect(s.searched.slice(0, SYSTEM_DIRS.length + 1)).toEqual([...SYSTEM_DIRS.map((x) => `system: ${x}`), LDCONFIG]);
    expect(s.candidates).toEqual(expect.arrayContaining(['libnccl.so.2', 'libnccl.so']));
    expect(s.candidates.some((c) => c.startsWith(tmp))).toBe(false);
  });

  test('VIRTUAL_ENV finds a venv that is not on PATH', () => {
    const sites = pythonSitePackages({ VIRTUAL_ENV: d.venv });
    expect(sites[0]).toBe(d.site);
    const locs = searchLocations({ VIRTUAL_ENV: d.venv }).filter((l) => l.source === 'python');
    expect(locs.slice(0, 2).map((l) => l.dir).sort()).toEqual([path.join(d.site!, 'nvidia', 'cu13', 'lib'), path.join(d.site!, 'nvidia', 'nccl', 'lib')]);
  });

  test('newer Python first, and the CUDA 13 wheel before the CUDA 12 one whatever the folder names', () => {
    const venv = path.join(tmp, 'tree', 'two-pythons');
    touch(path.join(venv, 'bin', 'python3'), 0o755);
    const old = path.join(venv, 'lib', 'python3.9', 'site-packages');
    const recent = path.join(venv, 'lib', 'python3.12', 'site-packages');
    // 'cublas' sorts before 'cu13': a folder-order search would take cuBLASLt 12 first.
    const v12 = touch(path.join(recent, 'nvidia', 'cublas', 'lib', 'libcublasLt.so.12'));
    const v13 = touch(path.join(recent, 'nvidia', 'cu13', 'lib', 'libcublasLt.so.13'));
    const oldV13 = touch(path.join(old, 'nvidia', 'cu13', 'lib', 'libcublasLt.so.13'));
    const env = { VIRTUAL_ENV: venv };
    expect(pythonSitePackages(env).slice(0, 2)).toEqual([recent, old]);
    expect(searchLibrary('cublasLt', env).candidates.filter(isPython)).toEqual([v13, oldV13, v12]);
  });

  test('a python3 on PATH that is a symlink also counts its real installation', () => {
    // <tmp>/tree/shim/bin/python3 -> <venv>/bin/python3: both prefixes are searched.
    const shimBin = path.join(tmp, 'tree', 'shim', 'bin');
    fs.mkdirSync(shimBin, { recursive: true });
    fs.symlinkSync(path.join(d.venv!, 'bin', 'python3'), path.join(shimBin, 'python3'));
    expect(pythonSitePackages({ PATH: shimBin })).toContain(d.site);
  });
});

// ---------------------------------------------------------------------------------------------
// The loader. loadCublasLt / loadNccl keep their first success for the life of the process, and a
// jest worker runs several test files in one process, so every load below runs in a fresh child
// `node` that requires the CUDA addon directly and prints what the calls returned.

const cudaAddonFile = addonCandidates('cuda').find((f) => fs.existsSync(f));

const LOADER_SCRIPT = `
const addon = require(process.env.VIT22B_TEST_ADDON);
const calls = JSON.parse(process.env.VIT22B_TEST_CALLS);
console.log(JSON.stringify(calls.map(([fn, candidates]) => addon[fn](candidates))));
`;

function loadInChild(calls: ['loadCublasLt' | 'loadNccl', string[]][]): NativeVendorLoad[] {
  const r = spawnSync(process.execPath, ['-e', LOADER_SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, VIT22B_TEST_ADDON: cudaAddonFile, VIT22B_TEST_CALLS: JSON.stringify(calls) },
  });
  if (r.status !== 0) throw new Error(`loader child failed (${r.status} ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as NativeVendorLoad[];
}

function compileSharedLibrary(file: string, source: string): string {
  const src = `${file}.cc`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(src, source);
  const r = spawnSync('g++', ['-shared', '-fPIC', '-O0', '-o', file, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`g++ failed for ${file}: ${r.stderr || r.error}`);
  fs.rmSync(src);
  return file;
}

const FAKE_CUBLASLT = `
#include <cstddef>
extern "C" {
int cublasLtMatmul() { return 0; }
size_t cublasLtGetVersion() { return 130102; }
int cublasLtCreate(void** handle) { if (handle) *handle = nullptr; return 0; }
int cublasLtDestroy(void*) { return 0; }
}
`;
// Has the required cublasLtMatmul but not the rest.
const PARTIAL_CUBLASLT = `extern "C" int cublasLtMatmul() { return 0; }\n`;
const FAKE_NCCL = `
extern "C" {
int ncclGetVersion(int* version) { *version = 22703; return 0; }
const char* ncclGetErrorString(int) { return "fake"; }
}
`;
const FAILING_NCCL = `extern "C" int ncclGetVersion(int* version) { return 3; }\n`;

describe('loading cuBLASLt and NCCL (the CUDA addon, fake libraries)', () => {
  let fake: Record<string, string>;
  beforeAll(() => {
    if (cudaAddonFile === undefined) return;
    const lib = (...p: string[]): string => path.join(tmp, 'fakes', ...p);
    fake = {
      cublasLt: compileSharedLibrary(lib('good', 'libcublasLt.so.13'), FAKE_CUBLASLT),
      partialCublasLt: compileSharedLibrary(lib('partial', 'libcublasLt.so.13'), PARTIAL_CUBLASLT),
      nccl: compileSharedLibrary(lib('good', 'libnccl.so.2'), FAKE_NCCL),
      failingNccl: compileSharedLibrary(lib('failing', 'libnccl.so.2'), FAILING_NCCL),
      emptyCublasLt: touch(lib('empty', 'libcublasLt.so.13')),
      missing: lib('missing', 'libcublasLt.so.13'),
    };
  }, 120_000);

  const requireCudaAddon = (): boolean => {
    if (cudaAddonFile !== undefined) return true;
    // Without the CUDA addon there is no loader; cuda-status reports 'addon-missing' instead.
    expect(addonCandidates('cuda').every((f) => !fs.existsSync(f))).toBe(true);
    return false;
  };

  test('cuBLASLt: a missing file and an empty file fail with dlopen messages, then the fake loads', () => {
    if (!requireCudaAddon()) return;
    const [r] = loadInChild([['loadCublasLt', [fake.missing!, fake.emptyCublasLt!, fake.cublasLt!]]]);
    expect(r!.found).toBe(true);
    expect(r!.path).toBe(fake.cublasLt);
    expect(r!.version).toBe(130102);
    expect(r!.versionString).toBe('13.1.2');
    expect(r!.attempts.map((a) => a.candidate)).toEqual([fake.missing, fake.emptyCublasLt]);
    expect(r!.attempts[0]!.error).toMatch(/No such file or directory/);
    // dlopen's message names the file and says why it is not a library (not "no such file").
    expect(r!.attempts[1]!.error).toContain(fake.emptyCublasLt);
    expect(r!.attempts[1]!.error).not.toMatch(/No such file/);
  });

  test('cuBLASLt: libraries lacking the API are refused with the reason, and a later call may still succeed', () => {
    if (!requireCudaAddon()) return;
    const [noMatmul, partial, good] = loadInChild([
      ['loadCublasLt', [fake.nccl!]],
      ['loadCublasLt', [fake.partialCublasLt!]],
      ['loadCublasLt', [fake.cublasLt!]],
    ]);
    expect(noMatmul).toEqual({ found: false, attempts: [{ candidate: fake.nccl, error: expect.stringContaining('cublasLtMatmul') }] });
    expect(partial!.found).toBe(false);
    expect(partial!.attempts).toEqual([{ candidate: fake.partialCublasLt, error: expect.stringMatching(/cublasLtGetVersion/) }]);
    expect(good).toMatchObject({ found: true, path: fake.cublasLt, versionString: '13.1.2', attempts: [] });
  });

  test('cuBLASLt: a library lacking the API does not stop the search for a later good one', () => {
    if (!requireCudaAddon()) return;
    const [load] = loadInChild([['loadCublasLt', [fake.partialCublasLt!, fake.cublasLt!]]]);
    expect(load).toMatchObject({ found: true, path: fake.cublasLt, versionString: '13.1.2' });
    expect(load!.attempts).toEqual([{ candidate: fake.partialCublasLt, error: expect.stringMatching(/cublasLtGetVersion/) }]);
  });

  test('cuBLASLt: the first success is kept for the process, whatever later calls pass', () => {
    if (!requireCudaAddon()) return;
    const [first, second] = loadInChild([
      ['loadCublasLt', [fake.cublasLt!]],
      ['loadCublasLt', [fake.missing!]],
    ]);
    expect(first).toMatchObject({ found: true, path: fake.cublasLt });
    expect(second).toEqual(first);
  });

  test('NCCL: the fake loads with version 2.27.3; a failing ncclGetVersion is refused', () => {
    if (!requireCudaAddon()) return;
    const [failing, good] = loadInChild([
      ['loadNccl', [fake.failingNccl!]],
      ['loadNccl', [fake.missing!, fake.emptyCublasLt!, fake.nccl!]],
    ]);
    expect(failing!.found).toBe(false);
    expect(failing!.attempts).toEqual([{ candidate: fake.failingNccl, error: expect.stringMatching(/ncclGetVersion/) }]);
    expect(good!.found).toBe(true);
    expect(good!.path).toBe(fake.nccl);
    expect(good!.version).toBe(22703);
    expect(good!.versionString).toBe('2.27.3');
    expect(good!.attempts.map((a) => a.candidate)).toEqual([fake.missing, fake.emptyCublasLt]);
  });

  test('bad candidate lists are ERR_INVALID_ARGUMENT, not a crash', () => {
    if (!requireCudaAddon()) return;
    const script = `
      const { Vit22bError } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'index.js'))});
      const addon = require(process.env.VIT22B_TEST_ADDON);
      addon.setErrorClass(Vit22bError);
      const out = [];
      for (const args of [[], ['x'], [[1]], [null]]) {
        try { addon.loadCublasLt(...args); out.push('returned'); } catch (e) { out.push([e instanceof Vit22bError, e.code, e.received]); }
      }
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, VIT22B_TEST_ADDON: cudaAddonFile } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([
      [true, 'ERR_INVALID_ARGUMENT', 'undefined'],
      [true, 'ERR_INVALID_ARGUMENT', 'string'],
      [true, 'ERR_INVALID_ARGUMENT', 'number'],
      [true, 'ERR_INVALID_ARGUMENT', 'null'],
    ]);
  });

  test('end to end: VIT22B_CUDA_LIBS points `vit22b info` at the fakes', () => {
    if (!requireCudaAddon()) return;
    const dir = path.dirname(fake.cublasLt!);
    const r = spawnSync(process.execPath, [DIST_CLI, 'info', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, VIT22B_CUDA_LIBS: dir },
    });
    const info = JSON.parse(r.stdout) as { cuda: { cublasLt: Record<string, unknown>; nccl: Record<string, unknown> } };
    expect(info.cuda.cublasLt).toMatchObject({ found: true, path: fake.cublasLt, version: '13.1.2', failures: [] });
    expect(info.cuda.nccl).toMatchObject({ found: true, path: fake.nccl, version: '2.27.3' });
    expect((info.cuda.cublasLt.searched as string[])[0]).toBe(`VIT22B_CUDA_LIBS: ${dir}`);
  });
});
