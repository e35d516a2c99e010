#!/usr/bin/env node
// The GPU checks, in plain JavaScript over dist/, so they run on a GPU machine that has Node.js but
// no node_modules (see ../shared/README.md: `source .devkit/env.sh && node test/gpu/cuda-checks.cjs`).
// test/gpu/cuda-device.test.ts runs this file under jest (`npm run test:gpu`) and requires every
// check to pass. Prints one JSON object: { checks: [{ name, ok, detail }] }; exits 1 on any failure.
// The same behaviour is proven on the CPU by test/runtime.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { check, checkAsync, settled, assert, randomF32, finish, loadVit, requireCuda } = require('./check-harness.cjs');

const vit = loadVit();
const { cudaStatus, openDevice, toBf16, bf16BitsToF32, napiCallCount } = vit;
// Without a usable GPU: one failed check that says why (VIT22B_GPU_CHECKS_DEVICE=cpu: a dry run).
requireCuda();

check('CUDA available with cuBLASLt and NCCL', () => {
  const s = cudaStatus();
  assert(s.available, `unavailable: ${s.reason}`);
  assert(s.devices.length > 0 && s.devices[0].smCount > 0, 'no device listed');
  assert(s.cublasLt.found, `cuBLASLt: ${s.cublasLt.reason}`);
  assert(s.nccl.found, `NCCL: ${s.nccl.reason}`);
  return `${s.devices[0].name}, driver ${s.driverVersion}, cuBLASLt ${s.cublasLt.version} (${s.cublasLt.path}), NCCL ${s.nccl.version} (${s.nccl.path})`;
});

check("'auto' picks the GPU and 'cuda' opens it", () => {
  const auto = openDevice();
  const cuda = openDevice({ device: 'cuda' });
  try {
    assert(auto.kind === 'cuda', `auto picked ${auto.kind}: ${auto.selection.reason}`);
    assert(/^cuda:0 /.test(cuda.name), `name ${cuda.name}`);
    return `${cuda.name}; auto: ${auto.selection.reason}`;
  } finally {
    auto.dispose();
    cuda.dispose();
  }
});

for (const n of [1, 3, 17, 129, 65537, 1 << 22]) {
  check(`axpby f32 and bf16 match the CPU backend, n=${n}`, () => {
    const cpu = openDevice({ device: 'cpu' });
    const gpu = openDevice({ device: 'cuda' });
    const x = randomF32(n, n);
    const y = randomF32(n, n + 1);
    let worst = 0;
    for (const dtype of ['f32', 'bf16']) {
      const xs = dtype === 'f32' ? x : toBf16(x);
      const ys = dtype === 'f32' ? y : toBf16(y);
      const t = [cpu.tensor(dtype, [n], xs), cpu.tensor(dtype, [n], ys), gpu.tensor(dtype, [n], xs), gpu.tensor(dtype, [n], ys)];
      cpu.axpby(1.25, t[0], -0.75, t[1]);
      gpu.axpby(1.25, t[2], -0.75, t[3]);
      const want = t[1].toFloat32();
      const got = t[3].toFloat32();
      // The GPU contracts a*x + b*y into one FMA while the CPU build rounds the product first, so
      // f32 results may differ by about an ulp of the operands' scale; bf16 by one bf16 ulp (2^-7).
      const rel = dtype === 'f32' ? 2 ** -21 : 2 ** -7;
      for (let i = 0; i < n; i++) {
        const scale = Math.abs(1.25 * x[i]) + Math.abs(0.75 * y[i]);
        const err = Math.abs(got[i] - want[i]);
        assert(err <= rel * scale + 1e-30, `${dtype} i=${i}: gpu ${got[i]} cpu ${want[i]}`);
        worst = Math.max(worst, err / (scale + 1e-30));
      }
      for (const tt of t) tt.dispose();
    }
    cpu.dispose();
    gpu.dispose();
    return `worst relative difference ${worst.toExponential(2)}`;
  });
}

check('beta = 0 overwrites a NaN-poisoned output', () => {
  const gpu = openDevice({ device: 'cuda' });
  const n = 4099;
  const x = randomF32(n, 7);
  const gx = gpu.tensor('f32', [n], x);
  const gy = gpu.tensor('f32', [n], new Float32Array(n).fill(Number.NaN));
  gpu.axpby(3, gx, 0, gy);
  const got = gy.download();
  // 3*x is one f32 rounding on both sides, so equality is exact.
  for (let i = 0; i < n; i++) assert(got[i] === Math.fround(3 * x[i]), `i=${i}: ${got[i]}`);
  gx.dispose();
  gy.dispose();
  gpu.dispose();
});

check('bf16 round trip through the GPU', () => {
  const gpu = openDevice({ device: 'cuda' });
  // Exact ties: 1 + 2^-8 rounds to 1 (even), 1 + 3*2^-8 rounds to 1 + 2^-6 (even).
  const t = gpu.tensor('bf16', [2], new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8]));
  const bits = t.download();
  assert(bf16BitsToF32(bits[0]) === 1 && bf16BitsToF32(bits[1]) === 1 + 2 ** -6, `got ${bits}`);
  t.dispose();
  gpu.dispose();
});

check('typed errors, disposal and out-of-memory recovery', () => {
  const gpu = openDevice({ device: 'cuda' });
  const before = gpu.stats().liveBuffers;
  const t = gpu.alloc('f32', [1024]);
  assert(gpu.stats().liveBuffers === before + 1, 'live buffer not counted');
  t.dispose();
  assert(gpu.stats().liveBuffers === before, 'dispose did not free');
  let code;
  try {
    t.download();
  } catch (e) {
    code = e.code;
  }
  assert(code === 'ERR_DISPOSED', `use after dispose gave ${code}`);
  code = undefined;
  try {
    gpu.alloc('u8', [2 ** 50]); // 1 PiB fits no GPU
  } catch (e) {
    code = e.code;
  }
  assert(code === 'ERR_DEVICE_OOM', `1 PiB allocation gave ${code}`);
  const ok = gpu.tensor('f32', [2], new Float32Array([1, 2]));
  const back = Array.from(ok.download());
  assert(back[0] === 1 && back[1] === 2, 'device unusable after OOM');
  ok.dispose();
  gpu.dispose();
});

check('vit22b info lists the GPU and the libraries', () => {
  const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli.js');
  const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' });
  assert(r.status === 0, `exit ${r.status}: ${r.stderr}`);
  const info = JSON.parse(r.stdout);
  assert(info.cuda.available && info.defaultDevice.kind === 'cuda', 'GPU not the default device');
  assert(/libcublasLt\.so/.test(info.cuda.cublasLt.path ?? ''), 'cuBLASLt path missing');
  assert(/libnccl\.so/.test(info.cuda.nccl.path ?? ''), 'NCCL path missing');
  assert(info.addon.loaded.variant === 'cuda', `addon ${info.addon.loaded.variant}`);
  return info.cuda.devices.map((d) => `${d.name} ${d.computeCapability} ${d.smCount} SMs`).join('; ');
});

// A plan: y = a*x + b*y with run scalars, then the clip factor of y[0] read back into an axpby as
// { read }.
function clipPlan() {
  const x = { slot: 0, offset: 0, bytes: 16 }, y = { slot: 0, offset: 64, bytes: 16 };
  const scale = { slot: 0, offset: 128, bytes: 4 }, z = { slot: 1, offset: 0, bytes: 16 };
  return {
    version: 1, arenaBytes: 192, slotBytes: [192, 16], events: 0, scalars: 2,
    streams: [[
      { kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: { scalar: 0 }, x, beta: { scalar: 1 }, y }, note: 'y = a x + b y' },
      { kernel: 'clip_scale', spec: { norm: { slot: 0, offset: 64, bytes: 4 }, maxNorm: 2, scale }, note: 'clip' },
      { kernel: 'axpby', spec: { dtype: 'f32', n: 4, alpha: { read: scale }, x: y, beta: 1, y: z }, note: 'z += s y' },
    ]],
    inputs: [x, y], outputs: [y, z],
  };
}

checkAsync('a plan runs on the GPU as on the CPU, in one N-API call per step', async () => {
  const results = [];
  for (const kind of ['cpu', 'cuda']) {
    const device = openDevice({ device: kind });
    const z = device.tensor('f32', [4], new Float32Array([1, 1, 1, 1]));
    const plan = device.loadPlan(clipPlan(), [z]);
    const outs = [];
    for (const step of [1, 2]) {
      const before = napiCallCount();
      const [y, zz] = await plan.run([new Float32Array([1, 2, 3, 4]), new Float32Array([4, 4, 4, 4])], [2, step]);
      assert(napiCallCount() - before === 1, `${kind}: ${napiCallCount() - before} N-API calls for one run`);
      outs.push([...new Float32Array(y), ...new Float32Array(zz)]);
    }
    plan.dispose();
    z.dispose();
    device.dispose();
    results.push(outs);
  }
  // The GPU may contract a*x + b*y into one FMA (see the axpby checks above): equal to ~1 ulp.
  const [cpu, gpu] = results.map((r) => r.flat());
  for (let i = 0; i < cpu.length; i++) {
    assert(Math.abs(gpu[i] - cpu[i]) <= 2 ** -21 * Math.abs(cpu[i]), `value ${i}: cpu ${cpu[i]} cuda ${gpu[i]}`);
  }
  // step 1: y = 2x + y = [6, 8, 10, 12] exactly; s = 2 / 6; z = 1 + s y.
  assert(cpu[0] === 6 && gpu[0] === 6, `y[0] ${cpu[0]} / ${gpu[0]}`);
  return JSON.stringify(results[1]);
});

checkAsync('a GPU plan step keeps the device busy and the JavaScript thread free', async () => {
  const gpu = openDevice({ device: 'cuda' });
  const n = 1 << 24;
  const v = { slot: 0, offset: 0, bytes: 4 * n };
  const step = { kernel: 'axpby', spec: { dtype: 'f32', n, alpha: 1, x: v, beta: 1, y: v } };
  const plan = gpu.loadPlan({ version: 1, arenaBytes: 4 * n, slotBytes: [4 * n], events: 0, scalars: 0, streams: [Array(200).fill(step)], inputs: [], outputs: [] });
  let busy = 0;
  const timer = setInterval(() => {
    try {
      gpu.synchronize();
    } catch (e) {
      if (e.code === 'ERR_DEVICE_BUSY') busy++;
    }
  }, 1);
  await plan.run([]);
  clearInterval(timer);
  plan.dispose();
  gpu.dispose();
  assert(busy > 0, 'no timer fired while the step ran');
  return `${busy} timer ticks saw the device busy`;
});

settled().then(() => finish());
