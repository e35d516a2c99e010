// The helpers every GPU check script (test/gpu/*-checks.cjs) shares, in plain CommonJS with no
// dependencies, so the scripts still run on a GPU machine that has Node.js but no node_modules:
// a seeded random generator, check / checkAsync / checkAwait collecting { name, ok, detail },
// assert, loading dist/index.js, the CUDA gate and the cpu + cuda device pair, each failing with one
// clean check that says why (no stack trace on stderr), and printing { checks: [...] } with the exit
// code (1 on any failure or when no check ran).
//
// VIT22B_GPU_CHECKS_DEVICE=cpu is the common dry run: loadVit() hands out the package with
// openDevice({ device: 'cuda' }) opening a second cpu device and cudaStatus() reporting CUDA
// available, so a script runs end to end on a machine without a GPU. It proves the script itself
// (inputs, comparisons, disposal), not the GPU code; checks about the GPU itself (cudaStatus, the
// CLI, allocator stats) fail there, as they should. Scripts with their own switch
// (VIT22B_CHECKS_SELF_TEST=1, VIT22B_ATTENTION_CHECKS_DEVICE=cpu) keep it.
'use strict';
const path = require('node:path');

const DIST = path.resolve(__dirname, '..', '..', 'dist');
const dryRun = process.env.VIT22B_GPU_CHECKS_DEVICE === 'cpu';

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n seeded values uniform in [-4, 4), as f32. */
function randomF32(n, seed) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * 4);
}

const checks = [];
const pending = [];

function errorDetail(e) {
  return `${e.code ?? 'Error'}: ${e.message}`;
}
function record(name, ok, detail) {
  checks.push({ name, ok, detail: detail ?? '' });
}
/** Runs fn now; its return value (or '') is the detail, a throw fails the check. */
function check(name, fn) {
  try {
    record(name, true, fn());
  } catch (e) {
    record(name, false, errorDetail(e));
  }
}
/** Starts the async fn now and records it when it settles (in settling order); see settled(). */
function checkAsync(name, fn) {
  pending.push(
    fn().then(
      (detail) => record(name, true, detail),
      (e) => record(name, false, errorDetail(e)),
    ),
  );
}
/** Runs fn (sync or async) and resolves once it is recorded: `await checkAwait(...)` keeps order. */
async function checkAwait(name, fn) {
  try {
    record(name, true, await fn());
  } catch (e) {
    record(name, false, errorDetail(e));
  }
}
/** Resolves when every checkAsync started so far has been recorded. */
function settled() {
  return Promise.all(pending);
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/**
 * Prints { checks } (indent: JSON.stringify's space; 0 prints one line) and sets the exit code:
 * 0 when at least one check ran and all passed, else 1. exit: true ends the process right away.
 */
function finish({ indent = 2, exit = false } = {}) {
  process.stdout.write(JSON.stringify({ checks }, null, indent) + '\n');
  const code = checks.length > 0 && checks.every((c) => c.ok) ? 0 : 1;
  if (exit) process.exit(code);
  process.exitCode = code;
}
/** Records one failed check, prints the result and ends the process (exit code 1). */
function abort(name, detail, finishOptions) {
  record(name, false, detail);
  finish(finishOptions);
  process.exit();
}

/** The package as a dry run sees it: 'cuda' opens a second cpu device, CUDA reports available. */
function dryRunPackage(vit) {
  return {
    ...vit,
    openDevice: (options) => vit.openDevice(options && options.device === 'cuda' ? { ...options, device: 'cpu' } : options),
    cudaStatus: () => {
      const real = vit.cudaStatus();
      return {
        ...real,
        available: true,
        reason: 'dry run (VIT22B_GPU_CHECKS_DEVICE=cpu): the cuda device is a second cpu device',
        devices: real.devices.length > 0 ? real.devices : [{ name: 'cpu (dry run)', smCount: 0, memoryBytes: 0, computeCapability: 'none' }],
      };
    },
  };
}

let loaded;
/**
 * dist/index.js (the dry-run view of it under VIT22B_GPU_CHECKS_DEVICE=cpu); when it cannot be
 * loaded, one failed check named `name` and the process ends.
 */
function loadVit(name = 'load dist/index.js', hint = 'cannot load the package build (run npm run build:ts first)', finishOptions) {
  if (loaded) return loaded;
  let vit;
  try {
    vit = require(path.join(DIST, 'index.js'));
  } catch (e) {
    abort(name, `${hint}: ${e.message}`, finishOptions);
  }
  loaded = dryRun ? dryRunPackage(vit) : vit;
  return loaded;
}

/** cudaStatus(), or one failed check `name` saying "CUDA unavailable: ..." and the process ends. */
function requireCuda(name = 'CUDA available', finishOptions) {
  const vit = loadVit(undefined, undefined, finishOptions);
  let s;
  try {
    s = vit.cudaStatus();
  } catch (e) {
    abort(name, `CUDA unavailable: cudaStatus() threw ${e.code ?? ''} ${e.message}`, finishOptions);
  }
  if (!s.available) abort(name, `CUDA unavailable: ${s.reason} (${s.reasonCode})`, finishOptions);
  return s;
}

/**
 * { cpu, gpu }: the cpu device and the `gpuDevice` one ('cuda' unless a script's own dry-run
 * switch says 'cpu'); when either fails to open, one failed check `name` and the process ends.
 */
function openDevices(name = 'open the cpu and cuda devices', gpuDevice = 'cuda', finishOptions) {
  const vit = loadVit(undefined, undefined, finishOptions);
  let cpu;
  try {
    cpu = vit.openDevice({ device: 'cpu' });
    const gpu = vit.openDevice({ device: gpuDevice });
    return { cpu, gpu };
  } catch (e) {
    if (cpu) cpu.dispose();
    abort(name, `CUDA unavailable: ${errorDetail(e)}`, finishOptions);
  }
}

module.exports = {
  DIST, dryRun, rng, randomF32, checks, record, check, checkAsync, checkAwait, settled, assert,
  finish, abort, loadVit, requireCuda, openDevices,
};
