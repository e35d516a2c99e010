#!/usr/bin/env node
// GPU checks of the CUDA runtime (issue 7): the caching allocator, plan streams and events, CUDA
// graph capture with device-side dynamic scalars, and out-of-memory handling. Plain JavaScript over
// dist/ like cuda-checks.cjs; test/gpu/cuda-device.test.ts runs it under jest (`npm run test:gpu`).
// Prints one JSON object { checks: [{ name, ok, detail }] } and exits 1 on any failure.
//
//   node test/gpu/runtime-checks.cjs            all checks (needs `npm run build` first)
//   node test/gpu/runtime-checks.cjs --child    internal: the training run of the graph-replay check,
//                                               in a process started with VIT22B_CUDA_GRAPHS=0
'use strict';
const { spawnSync } = require('node:child_process');

const { rng, randomF32, record, checkAwait: check, assert, finish: print, loadVit, requireCuda } = require('./check-harness.cjs');

// Printed with one-space indent, and the process ends right after.
const PRINT = { indent: 1, exit: true };
const { openDevice, compile, vitModel, getPreset } = loadVit(undefined, undefined, PRINT);
const finish = () => print(PRINT);

// ---- the tiny training program: the library's own ViT (tiny preset: parallel blocks, QK-norm,
// MAP head; so the windows pass and the fused kernels are in it) with softmax cross-entropy and
// AdamW with global-norm clipping: run scalars lr/step, a {read} clip factor, and the finite checks
// that split the step's graph ----

const MODEL = getPreset('tiny', { depth: 2, imageSize: 12 });
const BATCH = 16;
const STEPS = 20;
const LR = 1e-2;
const IMAGES = [BATCH, MODEL.imageSize, MODEL.imageSize, MODEL.channels];

function trainingInputs() {
  const r = rng(7);
  const images = randomF32(IMAGES.reduce((a, b) => a * b, 1), 8);
  const labels = Int32Array.from({ length: BATCH }, () => Math.floor(r() * MODEL.numClasses));
  return { images, labels };
}

function compileModel(device) {
  return compile(vitModel(MODEL), {
    device,
    train: { loss: 'loss', optimizer: { kind: 'adamw', weightDecay: 1e-4 }, clipNorm: 1 },
    seed: 3,
    inputShapes: { images: IMAGES, labels: [BATCH] },
  });
}

// Trains STEPS steps; `afterStep(step, program)` sees the program after each step.
async function train(device, afterStep) {
  const p = compileModel(device);
  try {
    const inputs = trainingInputs();
    const losses = [];
    for (let step = 1; step <= STEPS; ++step) {
      const out = await p.run(inputs, { lr: LR, step });
      losses.push(out.loss[0]);
      if (afterStep) afterStep(step, p);
    }
    const params = {};
    for (const name of p.parameterNames()) params[name] = Array.from(p.read(name));
    return { losses, params, execution: p.main.runner.execution };
  } finally {
    p.dispose();
  }
}

function maxRelDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; ++i) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

// ---- child mode: the uncaptured run for the graph-replay comparison ----

async function child() {
  const gpu = openDevice({ device: 'cuda' });
  try {
    const r = await train(gpu);
    process.stdout.write(JSON.stringify(r) + '\n');
  } finally {
    gpu.dispose();
  }
}

// ---- the checks ----

async function main() {
  const status = requireCuda('CUDA available', PRINT);
  record('CUDA available', true, status.devices[0].name);
  const gpu = openDevice({ device: 'cuda' });
  const cpu = openDevice({ device: 'cpu' });

  // Allocator stats are reachable and sane.
  await check('device.stats().allocator reports the caching allocator', () => {
    const s = gpu.stats().allocator;
    assert(s && typeof s.cudaMallocCount === 'number', `no allocator stats: ${JSON.stringify(gpu.stats())}`);
    const t = gpu.alloc('f32', [1000]);
    const mid = gpu.stats().allocator;
    t.dispose();
    const after = gpu.stats().allocator;
    assert(mid.allocatedBytes >= s.allocatedBytes + 4000, `allocated ${s.allocatedBytes} -> ${mid.allocatedBytes}`);
    assert(after.cachedBytes >= 4000 || after.caching === 0, `freed block not cached: ${JSON.stringify(after)}`);
    const again = gpu.alloc('f32', [1000]);
    const hit = gpu.stats().allocator;
    again.dispose();
    assert(hit.caching === 0 || hit.cudaMallocCount === mid.cudaMallocCount, `a same-size request after a free called cudaMalloc again`);
    return JSON.stringify(hit);
  });

  // 1. Loss curve vs the CPU, and no cudaMalloc after the first step.
  let graphRun = null;
  await check(`the tiny ViT trains on cuda like on the cpu for ${STEPS} steps (loss within 1e-2 relative)`, async () => {
    const ref = await train(cpu);
    const mallocs = [];
    graphRun = await train(gpu, () => {
      const a = gpu.stats().allocator;
      mallocs.push(a.cudaMallocCount + a.scratchMallocCount);
    });
    const worst = maxRelDiff(graphRun.losses, ref.losses);
    assert(graphRun.losses.every(Number.isFinite), `non-finite loss on cuda: ${graphRun.losses}`);
    assert(worst <= 1e-2, `max relative loss difference ${worst}; cuda ${graphRun.losses.map((v) => v.toFixed(5))} cpu ${ref.losses.map((v) => v.toFixed(5))}`);
    assert(graphRun.losses[STEPS - 1] < graphRun.losses[0], `loss did not fall: ${graphRun.losses[0]} -> ${graphRun.losses[STEPS - 1]}`);
    graphRun.mallocs = mallocs;
    return `max rel diff ${worst.toExponential(2)}; loss ${graphRun.losses[0].toFixed(4)} -> ${graphRun.losses[STEPS - 1].toFixed(4)}`;
  });

  await check('no cudaMalloc after the first training step (allocator stats)', () => {
    assert(graphRun, 'the training check did not run');
    const m = graphRun.mallocs;
    assert(m.every((v) => v === m[0]), `cudaMallocCount per step: ${m.join(', ')}`);
    return `cudaMallocCount + scratchMallocCount stays ${m[0]} over steps 1..${STEPS}`;
  });

  await check('the training step runs as replayed CUDA graphs from the second step on', () => {
    assert(graphRun, 'the training check did not run');
    if (process.env.VIT22B_CUDA_GRAPHS === '0') return `skipped: VIT22B_CUDA_GRAPHS=0 (${graphRun.execution})`;
    assert(graphRun.execution === 'graphs', `execution: ${graphRun.execution}`);
    return graphRun.execution;
  });

  // 2. Graph replay gives the same numbers as direct launches (VIT22B_CUDA_GRAPHS=0, child process).
  await check('graph replay gives bitwise the same losses and parameters as uncaptured launches', () => {
    assert(graphRun, 'the training check did not run');
    const res = spawnSync(process.execPath, [__filename, '--child'], {
      encoding: 'utf8',
      env: { ...process.env, VIT22B_CUDA_GRAPHS: '0' },
      maxBuffer: 64 << 20,
      timeout: 300_000,
    });
    assert(res.status === 0, `child failed (status ${res.status}, signal ${res.signal}): ${res.stderr.slice(-2000)}`);
    const direct = JSON.parse(res.stdout.trim().split('\n').pop());
    assert(/graphs off: VIT22B_CUDA_GRAPHS=0/.test(direct.execution), `child execution: ${direct.execution}`);
    const lossDiff = maxRelDiff(direct.losses, graphRun.losses);
    let paramDiff = 0;
    for (const [name, v] of Object.entries(graphRun.params)) paramDiff = Math.max(paramDiff, maxRelDiff(direct.params[name], v));
    assert(lossDiff === 0 && paramDiff === 0, `differences: losses ${lossDiff}, parameters ${paramDiff}`);
    return `identical over ${STEPS} steps (${Object.keys(graphRun.params).length} parameters)`;
  });

  // 3. Dynamic scalars on replays: { scalar } and { read } values change between runs.
  await check('axpby with { scalar } alpha and { read } beta picks up new values on every replay', async () => {
    const n = 1000;
    const plan = {
      version: 1,
      arenaBytes: 8 * n + 64,
      slotBytes: [8 * n + 64],
      events: 0,
      scalars: 1,
      // arena: x [n] f32 at 0, y [n] f32 at 4n, beta (f32) at 8n
      streams: [[{ kernel: 'axpby', note: 'y = s0 x + beta y', spec: { dtype: 'f32', n, alpha: { scalar: 0 }, x: { slot: 0, offset: 0, bytes: 4 * n }, beta: { read: { slot: 0, offset: 8 * n, bytes: 4 } }, y: { slot: 0, offset: 4 * n, bytes: 4 * n } } }]],
      inputs: [{ slot: 0, offset: 0, bytes: 8 * n + 4 }],
      outputs: [{ slot: 0, offset: 4 * n, bytes: 4 * n }],
    };
    const lp = gpu.loadPlan(plan);
    const lc = cpu.loadPlan(plan);
    try {
      const modes = [];
      for (let run = 0; run < 4; ++run) {
        const input = new Float32Array(2 * n + 1);
        input.set(randomF32(2 * n, 100 + run));
        input[2 * n] = run === 2 ? 0 : 0.5 + run; // beta 0 on one run: y is not read
        const alpha = [0.25, -1.5, 3, 7][run];
        const [g] = await lp.run([input], [alpha]);
        const [c] = await lc.run([input], [alpha]);
        modes.push(lp.execution);
        const d = maxRelDiff(new Float32Array(g), new Float32Array(c));
        assert(d <= 1e-6, `run ${run}: max rel diff ${d}`);
      }
      assert(process.env.VIT22B_CUDA_GRAPHS === '0' || modes[3] === 'graphs', `execution after each run: ${modes.join(' | ')}`);
      // A run scalar out of range is refused on a replay too (checked on the host before the launch).
      let code = '';
      await lp.run([new Float32Array(2 * n + 1)], [1e39]).catch((e) => (code = e.code));
      assert(code === 'ERR_INVALID_ARGUMENT', `out-of-range alpha on a replay gave ${code || 'no error'}`);
      return `4 runs match the cpu; modes ${modes.join(' | ')}`;
    } finally {
      lp.dispose();
      lc.dispose();
    }
  });

  // 4. Two streams with events: stream 1 consumes what stream 0 produced.
  await check('a two-stream plan with events matches the cpu (direct and replayed)', async () => {
    const n = 4099;
    const B = 4 * n;
    const view = (i) => ({ slot: 0, offset: i * B, bytes: B });
    const plan = {
      version: 1,
      arenaBytes: 4 * B,
      slotBytes: [4 * B],
      events: 2,
      scalars: 0,
      streams: [
        [
          { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 2, x: view(0), beta: 1, y: view(1) }, record: 0 },
          { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 1, x: view(2), beta: 1, y: view(1) }, wait: [1] },
        ],
        [
          { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 1, x: view(1), beta: 0, y: view(2) }, wait: [0] },
          { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: -3, x: view(0), beta: 1, y: view(2) }, record: 1 },
          { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 0.5, x: view(0), beta: 0, y: view(3) } },
        ],
      ],
      inputs: [{ slot: 0, offset: 0, bytes: 2 * B }],
      outputs: [view(1), view(2), view(3)],
    };
    const lp = gpu.loadPlan(plan);
    const lc = cpu.loadPlan(plan);
    try {
      for (let run = 0; run < 4; ++run) {
        const input = randomF32(2 * n, 300 + run);
        const g = await lp.run([input]);
        const c = await lc.run([input]);
        for (let k = 0; k < 3; ++k) {
          const d = maxRelDiff(new Float32Array(g[k]), new Float32Array(c[k]));
          assert(d <= 1e-6, `run ${run}, output ${k}: max rel diff ${d}`);
        }
      }
      return `4 runs match; ${lp.execution}`;
    } finally {
      lp.dispose();
      lc.dispose();
    }
  });

  // 5. Profiling runs without graphs, with the same numbers.
  await check('profiling runs the step uncaptured and gives the same outputs', async () => {
    const n = 257;
    const plan = {
      version: 1, arenaBytes: 8 * n, slotBytes: [8 * n], events: 0, scalars: 1,
      streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n, alpha: { scalar: 0 }, x: { slot: 0, offset: 0, bytes: 4 * n }, beta: 0, y: { slot: 0, offset: 4 * n, bytes: 4 * n } } }]],
      inputs: [{ slot: 0, offset: 0, bytes: 4 * n }], outputs: [{ slot: 0, offset: 4 * n, bytes: 4 * n }],
    };
    const lp = gpu.loadPlan(plan);
    try {
      const input = randomF32(n, 5);
      const [a] = await lp.run([input], [2]);
      const [b] = await lp.run([input], [2]);
      lp.setProfiling(true);
      const [c] = await lp.run([input], [2]);
      const mode = lp.execution;
      const prof = lp.profile();
      assert(!/^graphs/.test(mode), `profiled run used graphs: ${mode}`);
      assert(prof.runs === 1 && prof.entries.length === 1, `profile ${JSON.stringify(prof)}`);
      assert(Buffer.from(a).equals(Buffer.from(b)) && Buffer.from(b).equals(Buffer.from(c)), 'outputs differ');
      return mode;
    } finally {
      lp.dispose();
    }
  });

  // 6. Out of memory: a huge plan is ERR_DEVICE_OOM with figures, and a smaller one then works.
  await check('a plan too large for the GPU is ERR_DEVICE_OOM (after flushing the cache) and a smaller one then works', async () => {
    // Fill the cache first, so the OOM path has something to flush before its retry.
    const ts = [gpu.alloc('f32', [1 << 22]), gpu.alloc('f32', [1 << 22])];
    for (const t of ts) t.dispose();
    const before = gpu.stats().allocator;
    const total = status.devices[0].memoryBytes;
    const huge = Math.ceil((total * 2) / 4096) * 4096;
    const mk = (bytes) => ({
      version: 1, arenaBytes: bytes, slotBytes: [bytes], events: 0, scalars: 0,
      streams: [[{ kernel: 'axpby', spec: { dtype: 'f32', n: 256, alpha: 2, x: { slot: 0, offset: 0, bytes: 1024 }, beta: 0, y: { slot: 0, offset: 1024, bytes: 1024 } } }]],
      inputs: [{ slot: 0, offset: 0, bytes: 1024 }], outputs: [{ slot: 0, offset: 1024, bytes: 1024 }],
    });
    let err = null;
    try {
      gpu.loadPlan(mk(huge)).dispose();
    } catch (e) {
      err = e;
    }
    assert(err && err.code === 'ERR_DEVICE_OOM', `expected ERR_DEVICE_OOM, got ${err ? `${err.code}: ${err.message}` : 'success'}`);
    assert(/requested/.test(err.message) && /free/.test(err.message) && /allocated/.test(err.message) && /cached/.test(err.message), `message lacks figures: ${err.message}`);
    const after = gpu.stats().allocator;
    assert(after.caching === 0 || after.cacheFlushes > before.cacheFlushes, `cache not flushed before the retry: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    const small = gpu.loadPlan(mk(1 << 20));
    try {
      const input = randomF32(256, 9);
      const [out] = await small.run([input]);
      const y = new Float32Array(out);
      for (let i = 0; i < 256; ++i) assert(y[i] === 2 * input[i], `y[${i}] = ${y[i]}, expected ${2 * input[i]}`);
    } finally {
      small.dispose();
    }
    return err.message;
  });

  gpu.dispose();
  cpu.dispose();
  finish();
}

if (process.argv.includes('--child')) {
  child().catch((e) => {
    process.stderr.write(`${e.code ?? 'Error'}: ${e.message}\n`);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    record('runtime checks ran to the end', false, `${e.code ?? 'Error'}: ${e.stack ?? e.message}`);
    finish();
  });
}
