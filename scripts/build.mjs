#!/usr/bin/env node
// Builds what this machine can build, for `npm install` in a clone (the `prepare` script) and for
// `npm run prebuild`:
//   0. the kernel table from lib/kernels/*.ts     -> native/generated/, lib/kernels/table.gen.ts
//   1. the CPU addon with node-gyp            -> build/Release/vit22b_cpu.node      (must succeed)
//   2. the CUDA addon with cmake-js, if nvcc  -> build/cuda/Release/vit22b_cuda.node (skipped or a
//      warning when nvcc is missing or the build fails, unless --require-cuda)
//   3. copies both to prebuilds/<platform>-<arch>/, which `npm pack` ships
//   4. the TypeScript with tsup               -> dist/                               (unless --native-only)
//      (after scripts/gen-case-index.mjs, which lists the kernel case files for dist/kernel-checks.cjs)
// Nothing is downloaded: node-gyp gets Node's headers from the local installation (--nodedir), and
// cmake-js uses the node-api-headers package (package.json "binary.napi_versions").
// Set VIT22B_SKIP_CUDA=1 to skip step 2.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const nativeOnly = args.has('--native-only');
const requireCuda = args.has('--require-cuda');
const jobs = String(Math.max(1, os.availableParallelism()));

function log(msg) {
  console.log(`[vit22b build] ${msg}`);
}

function fail(msg) {
  console.error(`[vit22b build] error: ${msg}`);
  process.exit(1);
}

function run(cmd, cmdArgs, env = {}) {
  log(`$ ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function bin(pkg, file) {
  return path.join(root, 'node_modules', pkg, file);
}

// Node's headers: npm passes npm_config_nodedir when configured; otherwise the installation that
// runs us (<prefix>/include/node) has them. Only if neither exists would node-gyp try to download.
function nodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured && fs.existsSync(path.join(configured, 'include', 'node', 'node.h'))) return configured;
  const prefix = path.dirname(path.dirname(process.execPath));
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) return prefix;
  return undefined;
}

function findNvcc() {
  const dirs = (process.env.PATH ?? '').split(':');
  for (const v of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    if (v) dirs.push(path.join(v, 'bin'));
  }
  for (const d of dirs) {
    const f = path.join(d, 'nvcc');
    if (d && fs.existsSync(f)) return f;
  }
  return undefined;
}

function buildCpu() {
  const gyp = [bin('node-gyp', 'bin/node-gyp.js')];
  const dir = nodeDir();
  const common = dir ? [`--nodedir=${dir}`] : [];
  if (!dir) log('no local Node.js headers found; node-gyp may try to download them');
  const ok =
    run(process.execPath, [...gyp, 'configure', ...common]) &&
    run(process.execPath, [...gyp, 'build', '-j', jobs, ...common]);
  if (!ok) fail('the CPU addon failed to build (see above); it is required');
  return path.join(root, 'build', 'Release', 'vit22b_cpu.node');
}

function buildCuda() {
  if (process.env.VIT22B_SKIP_CUDA === '1') {
    if (requireCuda) fail('VIT22B_SKIP_CUDA=1 contradicts --require-cuda');
    log('skipping the CUDA addon (VIT22B_SKIP_CUDA=1)');
    return undefined;
  }
  const nvcc = findNvcc();
  if (!nvcc) {
    if (requireCuda) fail('nvcc not found (PATH, CUDA_HOME, CUDA_PATH, /usr/local/cuda): cannot build the CUDA addon');
    log('nvcc not found: skipping the CUDA addon (the CPU backend is complete on its own)');
    return undefined;
  }
  const ok = run(
    process.execPath,
    [bin('cmake-js', 'bin/cmake-js'), 'compile', '-O', 'build/cuda', `--CDCMAKE_CUDA_COMPILER=${nvcc}`],
    { CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  );
  if (!ok) {
    if (requireCuda) fail('the CUDA addon failed to build (see above)');
    log('warning: the CUDA addon failed to build (see above); continuing with the CPU addon only');
    return undefined;
  }
  return path.join(root, 'build', 'cuda', 'Release', 'vit22b_cuda.node');
}

function placePrebuilds(built) {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [variant, file] of Object.entries(built)) {
    const target = path.join(dir, `vit22b-${variant}.node`);
    if (!file) {
      fs.rmSync(target, { force: true }); // never ship a stale binary from an earlier build
      continue;
    }
    // Copy to a temporary name, then rename: a reader never sees a half-written addon.
    fs.copyFileSync(file, `${target}.tmp`);
    fs.renameSync(`${target}.tmp`, target);
    log(`placed ${path.relative(root, target)} (${(fs.statSync(target).size / 1024).toFixed(0)} KiB)`);
  }
}

// The kernel declarations (lib/kernels/*.ts) -> native/generated/ and lib/kernels/table.gen.ts,
// before anything compiles.
if (!run(process.execPath, [path.join(root, 'scripts', 'gen-kernels.mjs')])) fail('generating the kernel table failed (see above)');
const cpu = buildCpu();
const cuda = buildCuda();
placePrebuilds({ cpu, cuda });
// tsup bundles the kernel table's GPU runner from test/cases/index.gen.ts, which this writes first.
if (!nativeOnly && !run(process.execPath, [path.join(root, 'scripts', 'gen-case-index.mjs')])) fail('gen-case-index failed');
if (!nativeOnly && !run(process.execPath, [bin('tsup', 'dist/cli-default.js')])) fail('tsup failed');
log('done');
