import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Where cuBLASLt and NCCL may be, in the order we look:
 *   1. VIT22B_CUDA_LIBS (folders or files, ':'-separated): the user's explicit choice wins;
 *   2. LD_LIBRARY_PATH;
 *   3. CUDA_HOME, then CUDA_PATH (lib64, lib, targets/x86_64-linux/lib);
 *   4. the system: the usual CUDA and distribution folders, then the bare soname (ld.so's cache);
 *   5. the nvidia-* wheels in Python's site-packages (nvidia/<pkg>/lib), where PyTorch users
 *      already have both libraries.
 * Only files that exist become dlopen candidates; every folder looked in is kept for the message
 * that says where we searched when nothing is found.
 */

export type VendorLibrary = 'cublasLt' | 'nccl';

export interface SearchLocation {
  source: 'VIT22B_CUDA_LIBS' | 'LD_LIBRARY_PATH' | 'CUDA_HOME' | 'CUDA_PATH' | 'system' | 'python';
  dir: string;
}

export interface LibrarySearch {
  library: VendorLibrary;
  /** Existing files (and, for the system step, bare sonames), in the order to dlopen them. */
  candidates: string[];
  /** Every folder looked in, as "source: folder". */
  searched: string[];
}

/** File names per library, newest major first. cuBLASLt 13 matches our CUDA 13 runtime. */
export const LIBRARY_FILES: Record<VendorLibrary, string[]> = {
  cublasLt: ['libcublasLt.so.13', 'libcublasLt.so.12', 'libcublasLt.so'],
  nccl: ['libnccl.so.2', 'libnccl.so'],
};

const SYSTEM_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
];

function splitPathList(value: string | undefined): string[] {
  return (value ?? '').split(':').filter((p) => p.length > 0);
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Entries of `dir` starting with `prefix`, highest version first ("python3.12" before "python3.9"). */
function subdirs(dir: string, prefix: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return names.sort((a, b) => collator.compare(b, a)).map((n) => path.join(dir, n));
}

/** Python site-packages folders found without starting Python (that would cost ~50 ms per call). */
export function pythonSitePackages(env: NodeJS.ProcessEnv = process.env): string[] {
  const prefixes: string[] = [];
  for (const v of [env.VIRTUAL_ENV, env.CONDA_PREFIX]) if (v) prefixes.push(v);
  // Each python3 on PATH: its folder's parent is the prefix of a venv or an installation.
  for (const binDir of splitPathList(env.PATH)) {
    const exe = path.join(binDir, 'python3');
    if (!isFile(exe)) continue;
    prefixes.push(path.dirname(binDir));
    try {
      prefixes.push(path.dirname(path.dirname(fs.realpathSync(exe))));
    } catch {
      // a dangling symlink: the folder prefix above still counts
    }
  }
  prefixes.push(path.join(os.homedir(), '.local'), '/usr/local', '/usr', '/opt/conda');

  const sites: string[] = splitPathList(env.PYTHONPATH);
  for (const prefix of prefixes) {
    for (const libDir of [path.join(prefix, 'lib'), path.join(prefix, 'lib64')]) {
      for (const py of subdirs(libDir, 'python3')) {
        sites.push(path.join(py, 'site-packages'), path.join(py, 'dist-packages'));
      }
    }
  }
  sites.push('/usr/lib/python3/dist-packages');
  return [...new Set(sites)].filter(isDir);
}

export function searchLocations(env: NodeJS.ProcessEnv = process.env): SearchLocation[] {
  const out: SearchLocation[] = [];
  for (const dir of splitPathList(env.VIT22B_CUDA_LIBS)) out.push({ source: 'VIT22B_CUDA_LIBS', dir });
  for (const dir of splitPathList(env.LD_LIBRARY_PATH)) out.push({ source: 'LD_LIBRARY_PATH', dir });
  for (const key of ['CUDA_HOME', 'CUDA_PATH'] as const) {
    const root = env[key];
    if (!root) continue;
    for (const sub of ['lib64', 'lib', 'targets/x86_64-linux/lib']) {
      out.push({ source: key, dir: path.join(root, sub) });
    }
  }
  for (const dir of SYSTEM_DIRS) out.push({ source: 'system', dir });
  for (const site of pythonSitePackages(env)) {
    for (const pkg of subdirs(path.join(site, 'nvidia'), '')) {
      out.push({ source: 'python', dir: path.join(pkg, 'lib') });
    }
  }
  return out;
}

export function searchLibrary(
  library: VendorLibrary,
  env: NodeJS.ProcessEnv = process.env,
): LibrarySearch {
  const names = LIBRARY_FILES[library];
  const candidates: string[] = [];
  const searched: string[] = [];
  // Python wheels come last and are ordered by file name first: with both the CUDA 12 wheel
  // (nvidia/cublas/lib/libcublasLt.so.12) and the CUDA 13 one (nvidia/cu13/lib/libcublasLt.so.13)
  // installed, the library matching our CUDA 13 runtime wins whatever the folder names.
  const pythonFound: { rank: number; file: string }[] = [];
  for (const loc of searchLocations(env)) {
    searched.push(`${loc.source}: ${loc.dir}`);
    // An explicit file in VIT22B_CUDA_LIBS is taken as is when it is this library.
    if (loc.source === 'VIT22B_CUDA_LIBS' && isFile(loc.dir)) {
      if (path.basename(loc.dir).startsWith(`lib${library}.so`)) candidates.push(loc.dir);
      continue;
    }
    for (const [rank, name] of names.entries()) {
      const file = path.join(loc.dir, name);
      if (!isFile(file)) continue;
      if (loc.source === 'python') pythonFound.push({ rank, file });
      else candidates.push(file);
    }
  }
  // ld.so's own search (its cache and default folders) for what the folders above missed.
  candidates.push(...names);
  const firstPython = searched.findIndex((s) => s.startsWith('python: '));
  const cacheNote = 'system: the dynamic linker cache (ldconfig -p)';
  if (firstPython < 0) searched.push(cacheNote);
  else searched.splice(firstPython, 0, cacheNote);
  pythonFound.sort((a, b) => a.rank - b.rank); // stable: folder order within one file name
  candidates.push(...pythonFound.map((p) => p.file));
  return { library, candidates: [...new Set(candidates)], searched };
}
