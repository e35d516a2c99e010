#!/usr/bin/env node
// GPU checks of the norm, loss and optimizer kernels (native/cuda/layer_norm.cu, softmax_xent.cu,
// sigmoid_xent.cu, adamw.cu, adafactor.cu) that the kernel table (test/cases/layer_norm_fwd.ts,
// layer_norm_bwd.ts, softmax_xent.ts, sigmoid_xent.ts, topk_accuracy.ts, adamw.ts, adamw_multi.ts,
// adafactor.ts, run on the GPU by dist/kernel-checks.cjs, which compares one call of each kernel
// with the CPU in every storage type and layout) cannot say: that a row layout moves rows only (the
// GPU's laid-out call gives its dense call's bits), what the GPU does with bad labels and targets
// (NaN for that example only; ERR_INVALID_ARGUMENT under VIT22B_CUDA_CHECK_INPUTS=1, read once per
// process), adamw_multi's table cache (repeated and changing tensor lists, eviction), adamw_multi on
// misaligned plan views (the table's buffers are whole, aligned allocations), a five-step adafactor
// trajectory, and that no device buffer leaks. Where a check compares the GPU with the CPU, both run
// on the same seeded random inputs and the results are compared element by element, with the
// tolerance stated at the check. Outputs are poisoned first (NaN, bf16 0x7fc0, i32 sentinels) so an
// element the GPU never writes shows up as a mismatch.
// Plain JavaScript over dist/ (run `npm run build:ts` first); test/gpu/cuda-device.test.ts runs it
// under `npm run test:gpu`. Prints { checks: [{ name, ok, detail }] }; exits 1 on any failure. In a
// dry run (VIT22B_GPU_CHECKS_DEVICE=cpu) the bad-label, bad-target and VIT22B_CUDA_CHECK_INPUTS
// checks fail by design: the CPU throws where the GPU writes NaN, and the child opens a real cuda
// device.
//
// Tolerances, with U = 2^-23 (f32 unit roundoff): adamw_multi a few f32 ulps of each result (the
// GPU rounds as the CPU's scalar loop, whose AVX-512 twin may fuse a multiply-add), as the table's
// adamw_multi.ts gpuTolerance; the adafactor trajectory 1e-5 (|param| + 0.05) after five steps.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { rng, record, check, assert, finish, loadVit, requireCuda, openDevices } = require('./check-harness.cjs');

const vit = loadVit();
const { toBf16 } = vit;

const U = 2 ** -23;

/** n values uniform in [lo, hi), as f32. */
function uniform(r, n, lo, hi) {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

// Without a usable GPU there is nothing to compare: one failing check that says why, no crash.
requireCuda();
const { cpu, gpu } = openDevices();

// ---- tensors on both devices --------------------------------------------------------------------

const live = [];
function put(dev, dtype, shape, data) {
  const t = dtype === 'bf16' ? dev.tensor('bf16', shape, toBf16(data)) : dev.tensor(dtype, shape, data);
  live.push(t);
  return t;
}
/** The same data on both devices: [cpu tensor, gpu tensor]. */
function both(dtype, shape, data) {
  return [put(cpu, dtype, shape, data), put(gpu, dtype, shape, data)];
}
/** An output filled with a poison value: NaN (f32, bf16 0x7fc0) or a sentinel (i32). */
function poisoned(dev, dtype, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  let data;
  if (dtype === 'f32') data = new Float32Array(n).fill(Number.NaN);
  else if (dtype === 'bf16') data = new Uint16Array(n).fill(0x7fc0);
  else data = new Int32Array(n).fill(-123456789);
  const t = dev.tensor(dtype, shape, data);
  live.push(t);
  return t;
}
function freeAll() {
  for (const t of live.splice(0)) t.dispose();
}

/**
 * Compares the GPU's values with the CPU's: |gpu - cpu| <= tol(i) everywhere, NaN only where the
 * CPU has NaN (and infinities equal). Returns the worst ratio error / tolerance as text.
 */
function compare(what, got, want, tol) {
  assert(got.length === want.length, `${what}: ${got.length} values, expected ${want.length}`);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      assert(Number.isNaN(w) && Number.isNaN(g), `${what}[${i}]: gpu ${g}, cpu ${w}`);
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      assert(g === w, `${what}[${i}]: gpu ${g}, cpu ${w}`);
      continue;
    }
    const t = tol(i);
    const err = Math.abs(g - w);
    assert(err <= t, `${what}[${i}]: gpu ${g}, cpu ${w}, |diff| ${err.toExponential(3)} > tolerance ${t.toExponential(3)}`);
    const ratio = err / (t || 1e-300);
    if (ratio > worst) {
      worst = ratio;
      worstAt = i;
    }
  }
  return `${what} worst ${worst.toFixed(3)} of tol${worstAt >= 0 ? ` at ${worstAt}` : ''}`;
}

// ---- layer_norm with row layouts and dresidual ----------------------------------------------------
// x, y, dy, dx, dresidual laid out by lib/kernels/records.ts RowLayout (row r at (r / groupRows) * groupStride +
// (r % groupRows) * dim) inside NaN-filled buffers with a tail, through raw launch specs. Checked on
// the GPU alone: its laid-out results equal its own dense call on the gathered rows bitwise (layouts
// only move rows: native/cuda/layer_norm.cu keeps the dense call's arithmetic, thread mapping and
// blocking), and the elements outside the rows keep their poison. The GPU against the CPU in these
// layouts is the table's (layer_norm_fwd.ts, layer_norm_bwd.ts: grouped x / y / dy / dx / dresidual).

/** First element of row r under layout l (undefined: dense). */
function lnRowStart(l, dim, r) {
  return l ? Math.floor(r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim : r * dim;
}
function lnExtent(l, rows, dim) {
  return l ? (rows / l.groupRows - 1) * l.groupStride + l.groupRows * dim : rows * dim;
}
const LN_PAD = 9;
/** Storage bits (Float32Array / Uint16Array) of `dense` rows laid out by l, NaN elsewhere. */
function lnScatter(dtype, dense, l, rows, dim) {
  const n = lnExtent(l, rows, dim) + LN_PAD;
  const out = dtype === 'bf16' ? new Uint16Array(n).fill(0x7fc0) : new Float32Array(new Uint32Array(n).fill(0x7fc00000).buffer);
  const bits = dtype === 'bf16' ? toBf16(dense) : Float32Array.from(dense);
  for (let r = 0; r < rows; r++) out.set(bits.subarray(r * dim, (r + 1) * dim), lnRowStart(l, dim, r));
  return out;
}
/** The raw bits of a laid-out download: [rows gathered dense (integers), first gap index not NaN-poisoned or -1]. */
function lnGather(t, dtype, l, rows, dim) {
  const raw = t.download();
  const ints = dtype === 'bf16' ? raw : new Uint32Array(raw.buffer, raw.byteOffset, raw.length);
  const poisonBits = dtype === 'bf16' ? 0x7fc0 : 0x7fc00000;
  const inRow = new Uint8Array(ints.length);
  const rowsOut = dtype === 'bf16' ? new Uint16Array(rows * dim) : new Uint32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = lnRowStart(l, dim, r);
    inRow.fill(1, s, s + dim);
    rowsOut.set(ints.subarray(s, s + dim), r * dim);
  }
  let gap = -1;
  for (let i = 0; i < ints.length && gap < 0; i++) if (!inRow[i] && ints[i] !== poisonBits) gap = i;
  return [rowsOut, gap];
}
/** Bitwise equality of two integer or f32 arrays (NaNs compare by their bits). */
function lnSameBits(a, b) {
  const bits = (v) => (v instanceof Float32Array ? new Uint32Array(v.buffer, v.byteOffset, v.length) : v);
  const x = bits(a);
  const y = bits(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const lnLayoutCases = [
  // The per-head QK-norm read out of a fused [B*T, 3D + F] output: groups of H rows of Dh.
  { rows: 30, dim: 8, xL: { groupRows: 3, groupStride: 3 * 8 + 13 }, oL: { groupRows: 5, groupStride: 43 } },
  { rows: 6 * 700, dim: 64, xL: { groupRows: 6, groupStride: 3 * 384 + 1536 }, oL: { groupRows: 6, groupStride: 384 } },
  { rows: 16 * 257, dim: 128, xL: { groupRows: 16, groupStride: 3 * 2048 + 8192 }, oL: { groupRows: 4, groupStride: 4 * 128 + 32 } },
  { rows: 129, dim: 17, xL: { groupRows: 43, groupStride: 43 * 17 + 1 }, oL: { groupRows: 3, groupStride: 3 * 17 + 30 } },
  { rows: 17, dim: 1, xL: { groupRows: 1, groupStride: 3 }, oL: { groupRows: 17, groupStride: 17 } },
  { rows: 3, dim: 3, xL: { groupRows: 3, groupStride: 9 }, oL: { groupRows: 1, groupStride: 4 } },
  // Block-per-row path (dim > 512).
  { rows: 12, dim: 768, xL: { groupRows: 4, groupStride: 4 * 768 + 100 }, oL: { groupRows: 3, groupStride: 3 * 768 + 1 } },
  { rows: 9, dim: 1031, xL: { groupRows: 1, groupStride: 1031 + 5 }, oL: { groupRows: 9, groupStride: 9 * 1031 } },
];
const lnVariants = [];
lnLayoutCases.forEach((lc, i) => {
  for (const dtype of ['f32', 'bf16']) {
    for (const residual of ['none', 'separate', 'inplace']) {
      lnVariants.push({ ...lc, dtype, residual, center: (i + (residual === 'separate' ? 1 : 0)) % 2 === 0, bias: i % 3 === 0 });
    }
  }
});

/** NaN bits (f32 0x7fc00000, bf16 0x7fc0) for a [rows, dim] output laid out by l, plus the tail. */
function lnPoisoned(dtype, l, rows, dim) {
  const n = lnExtent(l, rows, dim) + LN_PAD;
  return dtype === 'bf16' ? new Uint16Array(n).fill(0x7fc0) : new Float32Array(new Uint32Array(n).fill(0x7fc00000).buffer);
}

for (const c of lnVariants) {
  const label = `rows=${c.rows} dim=${c.dim} ${c.dtype} ${c.center ? 'LayerNorm' : 'RMSNorm'}${c.bias ? '+bias' : ''} x ${JSON.stringify(c.xL)} others ${JSON.stringify(c.oL)} dresidual ${c.residual}`;
  check(`layer_norm with row layouts: GPU laid out == GPU dense bitwise, gaps untouched, ${label}`, () => {
    const r = rng(c.rows * 131 + c.dim * 7 + (c.residual === 'inplace' ? 2 : c.residual === 'separate' ? 1 : 0) + (c.dtype === 'bf16' ? 5 : 0));
    const { rows, dim, dtype } = c;
    const n = rows * dim;
    const xData = new Float32Array(n);
    for (let i = 0; i < rows; i++) {
      const offset = (r() - 0.5) * 8;
      for (let j = 0; j < dim; j++) xData[i * dim + j] = offset + (r() * 2 - 1) * 2;
    }
    const scaleData = uniform(r, dim, 0.5, 1.5);
    const biasData = uniform(r, dim, -1, 1);
    const dyData = uniform(r, n, -1, 1);
    const dresData = uniform(r, n, -2, 2);
    const eps = 1e-6;
    // Layouts of the laid-out runs (dresidual takes dx's when in place); DENSE: all dense.
    const LAID = { x: c.xL, y: c.oL, dy: c.oL, dx: c.xL, dres: c.residual === 'inplace' ? c.xL : c.oL };
    const DENSE = {};
    const buf = (dev, data) => {
      const t = dev.tensor(dtype, [data.length], data);
      live.push(t);
      return t;
    };
    const f32 = (dev, data) => put(dev, 'f32', [data.length], data);
    const layoutFields = (pairs) => Object.fromEntries(pairs.filter(([, l]) => l));
    /**
     * Forward (statistics saved), then the backward from `stats` ([mean, rstd], the dense call's,
     * so the backward inputs are the same in every layout), on dev with layouts `lay`. Returns the
     * rows of y and dx (raw bits), mean, rstd, dscale, dbias and the first written gap of y and dx.
     */
    const runOn = (dev, lay, stats) => {
      const x = buf(dev, lnScatter(dtype, xData, lay.x, rows, dim));
      const scale = put(dev, dtype, [dim], scaleData);
      const bias = c.bias ? put(dev, dtype, [dim], biasData) : undefined;
      const y = buf(dev, lnPoisoned(dtype, lay.y, rows, dim));
      const mean = poisoned(dev, 'f32', [rows]);
      const rstd = poisoned(dev, 'f32', [rows]);
      dev.native.launch('layer_norm_fwd', {
        dtype, paramType: dtype, rows, dim, eps, center: c.center,
        x: x.buffer, scale: scale.buffer, y: y.buffer, mean: mean.buffer, rstd: rstd.buffer,
        ...(bias ? { bias: bias.buffer } : {}),
        ...layoutFields([['xLayout', lay.x], ['yLayout', lay.y]]),
      });
      const meanIn = f32(dev, stats ? stats[0] : new Float32Array(rows));
      const rstdIn = f32(dev, stats ? stats[1] : new Float32Array(rows).fill(1));
      const dy = buf(dev, lnScatter(dtype, dyData, lay.dy, rows, dim));
      let dx;
      let dres;
      if (c.residual === 'inplace') {
        dx = buf(dev, lnScatter(dtype, dresData, lay.dx, rows, dim));
        dres = dx;
      } else {
        dx = buf(dev, lnPoisoned(dtype, lay.dx, rows, dim));
        if (c.residual === 'separate') dres = buf(dev, lnScatter(dtype, dresData, lay.dres, rows, dim));
      }
      const dscale = poisoned(dev, 'f32', [dim]);
      const dbias = c.bias ? poisoned(dev, 'f32', [dim]) : undefined;
      dev.native.launch('layer_norm_bwd', {
        dtype, paramType: dtype, rows, dim, center: c.center,
        x: x.buffer, scale: scale.buffer, rstd: rstdIn.buffer, dy: dy.buffer, dx: dx.buffer, dscale: dscale.buffer,
        ...(c.center ? { mean: meanIn.buffer } : {}),
        ...(dbias ? { dbias: dbias.buffer } : {}),
        ...(dres ? { dresidual: dres.buffer } : {}),
        ...layoutFields([['xLayout', lay.x], ['dyLayout', lay.dy], ['dxLayout', lay.dx], ['dresidualLayout', dres ? lay.dres : undefined]]),
      });
      const [yRows, yGap] = lnGather(y, dtype, lay.y, rows, dim);
      const [dxRows, dxGap] = lnGather(dx, dtype, lay.dx, rows, dim);
      return {
        yRows, yGap, dxRows, dxGap, mean: mean.toFloat32(), rstd: rstd.toFloat32(),
        dscale: dscale.toFloat32(), dbias: dbias ? dbias.toFloat32() : undefined,
      };
    };
    // The GPU's own dense statistics feed every backward (so both calls get the same inputs).
    const gpuStats = runOn(gpu, DENSE, null);
    const stats = [c.center ? gpuStats.mean : new Float32Array(rows), gpuStats.rstd];
    const gpuDense = runOn(gpu, DENSE, stats);
    const gpuLaid = runOn(gpu, LAID, stats);
    freeAll();
    // Layouts move rows only: the GPU's laid-out results are its dense ones, bit for bit.
    for (const k of ['yRows', 'dxRows', 'mean', 'rstd', 'dscale']) {
      assert(lnSameBits(gpuLaid[k], gpuDense[k]), `${k}: the laid-out GPU call differs from the dense GPU call`);
    }
    if (c.bias) assert(lnSameBits(gpuLaid.dbias, gpuDense.dbias), 'dbias: the laid-out GPU call differs from the dense GPU call');
    for (const [name, gap] of [['y', gpuLaid.yGap], ['dx', gpuLaid.dxGap], ['dense y', gpuDense.yGap], ['dense dx', gpuDense.dxGap]]) {
      assert(gap < 0, `${name}[${gap}] outside the rows was written on the GPU`);
    }
    return 'laid out == dense, bit for bit; gaps untouched';
  });
}

// ---- softmax_xent, sigmoid_xent, topk_accuracy ---------------------------------------------------
// Every shape, smoothing and storage type against the CPU is the table's; here what the GPU does
// with a label or target the kernels do not accept (the CPU throws; the GPU, which does not read its
// inputs back, marks that example).

check('softmax_xent: an out-of-range label gives a NaN loss and NaN dlogits row on the GPU only for that example', () => {
  const n = 5;
  const c = 7;
  const r = rng(99);
  const x = put(gpu, 'f32', [n, c], uniform(r, n * c, -2, 2));
  const lab = put(gpu, 'i32', [n], Int32Array.from([0, 7, 3, -1, 6]));
  const loss = poisoned(gpu, 'f32', [n]);
  const dl = poisoned(gpu, 'f32', [n, c]);
  vit.softmaxCrossEntropy(gpu, x, lab, loss, { dlogits: dl });
  const l = loss.toFloat32();
  const g = dl.toFloat32();
  freeAll();
  for (const i of [0, 2, 4]) assert(Number.isFinite(l[i]), `loss ${i} = ${l[i]}`);
  for (const i of [1, 3]) assert(Number.isNaN(l[i]), `loss ${i} = ${l[i]} (bad label)`);
  for (let j = 0; j < c; j++) assert(Number.isNaN(g[1 * c + j]) && Number.isFinite(g[0 * c + j]), `dlogits column ${j}`);
  return `loss ${Array.from(l).map((v) => v.toFixed(4)).join(', ')}`;
});

check('sigmoid_xent: a target outside [0, 1] gives a NaN loss on the GPU for that example only', () => {
  const n = 3;
  const c = 4;
  const x = put(gpu, 'f32', [n, c], uniform(rng(5), n * c, -2, 2));
  const t = put(gpu, 'f32', [n, c], Float32Array.from([0, 1, 0.5, 0, 0, 1.5, 0, 0, 1, 1, 0, 0]));
  const loss = poisoned(gpu, 'f32', [n]);
  const dl = poisoned(gpu, 'f32', [n, c]);
  vit.sigmoidCrossEntropy(gpu, x, t, loss, { dlogits: dl });
  const l = loss.toFloat32();
  const g = dl.toFloat32();
  freeAll();
  assert(Number.isFinite(l[0]) && Number.isNaN(l[1]) && Number.isFinite(l[2]), `loss ${Array.from(l)}`);
  assert(Number.isNaN(g[5]) && Number.isFinite(g[4]) && Number.isFinite(g[6]), `dlogits row 1 ${Array.from(g.slice(4, 8))}`);
});

check('VIT22B_CUDA_CHECK_INPUTS=1 makes bad labels and targets throw ERR_INVALID_ARGUMENT on the GPU, as on the CPU', () => {
  // A child process: the variable is read once per process.
  const child = `
    const vit = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'index.js'))});
    const gpu = vit.openDevice({ device: 'cuda' });
    const codes = [];
    const x = gpu.tensor('f32', [2, 3], new Float32Array(6));
    const loss = gpu.alloc('f32', [2]);
    const counts = gpu.alloc('i32', [2]);
    const bad = gpu.tensor('i32', [2], Int32Array.from([0, 3]));
    const good = gpu.tensor('i32', [2], Int32Array.from([0, 2]));
    const targets = gpu.tensor('f32', [2, 3], Float32Array.from([0, 1, 0.5, 0, 2, 0]));
    const attempt = (fn) => { try { fn(); codes.push('ok'); } catch (e) { codes.push(e.code); } };
    attempt(() => vit.softmaxCrossEntropy(gpu, x, bad, loss));
    attempt(() => vit.topkAccuracy(gpu, x, bad, counts));
    attempt(() => vit.sigmoidCrossEntropy(gpu, x, targets, loss));
    attempt(() => vit.softmaxCrossEntropy(gpu, x, good, loss));
    console.log(JSON.stringify(codes));
  `;
  const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8', env: { ...process.env, VIT22B_CUDA_CHECK_INPUTS: '1' } });
  assert(r.status === 0, `child exit ${r.status}: ${r.stderr}`);
  const codes = JSON.parse(r.stdout.trim().split('\n').pop());
  const want = ['ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ok'];
  assert(JSON.stringify(codes) === JSON.stringify(want), `got ${codes}`);
  return codes.join(', ');
});

// ---- adamw / adamw_multi ------------------------------------------------------------------------

/** Random AdamW state of n elements on both devices. */
function adamwState(r, n, gradType) {
  return {
    param: both('f32', [n], uniform(r, n, -1, 1)),
    grad: both(gradType, [n], uniform(r, n, -2, 2)),
    m: both('f32', [n], uniform(r, n, -0.1, 0.1)),
    v: both('f32', [n], uniform(r, n, 0, 0.01)),
  };
}
function side(s, k) {
  return { param: s.param[k], grad: s.grad[k], m: s.m[k], v: s.v[k] };
}

// The GPU rounds every operation as the CPU's scalar loop does; the CPU's AVX-512 loop may fuse a
// multiply-add, so allow a few f32 ulps of each result (and of the step for param).
function compareAdamw(s, o) {
  const lr = o.lr;
  const d = [];
  const p = s.param[0].toFloat32();
  d.push(compare('param', s.param[1].toFloat32(), p, (i) => 4 * U * Math.abs(p[i]) + 8 * U * lr * 10));
  const m = s.m[0].toFloat32();
  d.push(compare('m', s.m[1].toFloat32(), m, (i) => 4 * U * (Math.abs(m[i]) + 2)));
  const v = s.v[0].toFloat32();
  d.push(compare('v', s.v[1].toFloat32(), v, (i) => 4 * U * (Math.abs(v[i]) + 4)));
  return d.join(', ');
}

// One call of adamw and adamw_multi against the CPU (sizes, gradient types, steps, a shared
// gradient, one tensor, an empty list) is the table's; here adamw_multi's table cache on the device.
check('adamw_multi matches the CPU (mixed sizes and gradient types, repeated calls hit the table cache)', () => {
  const r = rng(4242);
  const sizes = [1, 3, 17, 129, 2048, 2049, 65537, 300001, 5, 4097];
  const states = sizes.map((n, i) => adamwState(r, n, i % 2 ? 'bf16' : 'f32'));
  const out = [];
  for (let step = 1; step <= 4; step++) {
    const o = { step, lr: 3e-3, weightDecay: 0.05, gradScale: step === 3 ? 0.25 : 1 };
    for (const k of [0, 1]) vit.adamwMulti(k ? gpu : cpu, states.map((s) => side(s, k)), o);
    states.forEach((s, i) => out.push(`step ${step} tensor ${i} (n=${sizes[i]}): ${compareAdamw(s, o)}`));
  }
  // A different subset (another table), then the first set again.
  for (const subset of [[7, 2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const o = { step: 5, lr: 1e-3 };
    for (const k of [0, 1]) vit.adamwMulti(k ? gpu : cpu, subset.map((i) => side(states[i], k)), o);
    subset.forEach((i) => out.push(`subset tensor ${i}: ${compareAdamw(states[i], o)}`));
  }
  freeAll();
  return `${out.length} comparisons passed; last: ${out[out.length - 1]}`;
});

check('adamw_multi with more distinct tensor sets than the table cache holds (eviction) stays correct', () => {
  const r = rng(77);
  let done = 0;
  for (let round = 0; round < 80; round++) {
    const states = [3, 2049, 17].map((n) => adamwState(r, n, 'f32'));
    const o = { step: 1 + (round % 3), lr: 1e-2, weightDecay: 0.01 };
    for (const k of [0, 1]) vit.adamwMulti(k ? gpu : cpu, states.map((s) => side(s, k)), o);
    if (round % 10 === 9) {
      for (const s of states) compareAdamw(s, o);
      done++;
    }
    freeAll();
  }
  return `${done} rounds compared`;
});

// adamw_multi through a plan whose tensors sit at offsets that are not multiples of 16 bytes: the
// kernel's scalar path (the vector path needs every pointer aligned), checked against the CPU.
// Asynchronous (a plan run), so it runs last, after every synchronous check: a device running a
// plan answers other calls with ERR_DEVICE_BUSY.
async function misalignedPlanCheck() {
  const name = 'adamw_multi on misaligned plan views (scalar path) matches the CPU';
  try {
    const r = rng(1234);
    const specs = [[1, 'f32'], [5, 'bf16'], [2051, 'f32'], [4099, 'bf16']];
    let cursor = 4;
    const view = (bytes) => {
      // Every buffer starts at 4 mod 16 bytes, and at least 4 bytes after the previous one.
      cursor = Math.ceil((cursor - 4) / 16) * 16 + 4;
      const v = { slot: 0, offset: cursor, bytes };
      cursor += bytes + 4;
      return v;
    };
    const tensors = [];
    const inputs = [];
    const data = [];
    for (const [n, gradType] of specs) {
      const t = { n, gradType, param: view(4 * n), grad: view((gradType === 'bf16' ? 2 : 4) * n), m: view(4 * n), v: view(4 * n) };
      tensors.push(t);
      for (const [key, lo, hi] of [['param', -1, 1], ['grad', -2, 2], ['m', -0.1, 0.1], ['v', 0, 0.01]]) {
        inputs.push(t[key]);
        const values = uniform(r, n, lo, hi);
        data.push(key === 'grad' && gradType === 'bf16' ? toBf16(values) : values);
      }
    }
    const arenaBytes = Math.ceil(cursor / 256) * 256;
    const plan = {
      version: 1, arenaBytes, slotBytes: [arenaBytes], events: 0, scalars: 0,
      streams: [[{ kernel: 'adamw_multi', spec: { tensors, step: 3, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, gradScale: 0.5 }, note: 'adamw_multi' }]],
      inputs,
      outputs: tensors.flatMap((t) => [t.param, t.m, t.v]),
    };
    const results = [];
    for (const dev of [cpu, gpu]) {
      const loaded = dev.loadPlan(plan);
      results.push((await loaded.run(data)).map((b) => new Float32Array(b)));
      loaded.dispose();
    }
    const details = [];
    results[0].forEach((want, i) => {
      const kind = ['param', 'm', 'v'][i % 3];
      const got = results[1][i];
      const tol = kind === 'param' ? (e) => 4 * U * Math.abs(want[e]) + 8 * U * 0.1 : (e) => 4 * U * (Math.abs(want[e]) + 4);
      details.push(compare(`tensor ${Math.floor(i / 3)} ${kind}`, got, want, tol));
    });
    record(name, true, details.join('; '));
  } catch (e) {
    record(name, false, `${e.code ?? 'Error'}: ${e.message}`);
  }
}

// ---- adafactor ----------------------------------------------------------------------------------

// One step against the CPU (factored and not, every storage pair, clipping) is the table's
// (adafactor.ts); here five steps in a row, each starting from the previous one's state on its own
// device, with a bound for the accumulated difference.
check('adafactor: five steps of an f32-momentum factored trajectory stay close to the CPU', () => {
  const rows = 65;
  const cols = 300;
  const n = rows * cols;
  const r = rng(2026);
  const t = {
    param: both('f32', [rows, cols], uniform(r, n, -1, 1)),
    grad: both('bf16', [rows, cols], uniform(r, n, -1, 1)),
    momentum: both('f32', [rows, cols], new Float32Array(n)),
    vr: both('f32', [rows], new Float32Array(rows)),
    vc: both('f32', [cols], new Float32Array(cols)),
  };
  for (let step = 1; step <= 5; step++) {
    for (const k of [0, 1]) {
      const tk = {};
      for (const [name, pair] of Object.entries(t)) tk[name] = pair[k];
      vit.adafactor(k ? gpu : cpu, tk, { step, lr: 0.01, clipThreshold: 1 });
    }
  }
  const want = t.param[0].toFloat32();
  const d = compare('param after 5 steps', t.param[1].toFloat32(), want, (i) => 1e-5 * (Math.abs(want[i]) + 0.05));
  freeAll();
  return d;
});

misalignedPlanCheck().then(() => {
  check('no device buffers leak', () => {
    freeAll();
    const st = gpu.stats();
    assert(st.liveBuffers === 0, `${st.liveBuffers} live GPU buffers`);
    return JSON.stringify(st);
  });
  cpu.dispose();
  gpu.dispose();
  finish();
});
