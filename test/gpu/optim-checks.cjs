#!/usr/bin/env node
// GPU checks of the norm, loss and optimizer kernels (native/cuda/layer_norm.cu, softmax_xent.cu,
// sigmoid_xent.cu, topk_accuracy.cu, adamw.cu, adafactor.cu): each kernel runs on the `cuda` and
// the `cpu` device on the same seeded random inputs and the results are compared element by
// element, with the tolerance stated at each check. Outputs are poisoned first (NaN, bf16 0x7fc0,
// i32 sentinels) so an element the GPU never writes shows up as a mismatch. Sizes include 1, 3, 17,
// 129 and large non-multiples of the block sizes (256 threads, 2048-element chunks).
// Plain JavaScript over dist/ (run `npm run build:ts` first); test/gpu/cuda-device.test.ts runs it
// under `npm run test:gpu`. Prints { checks: [{ name, ok, detail }] }; exits 1 on any failure.
//
// Tolerances, with u = 2^-23 (f32 unit roundoff). The GPU and the CPU sum rows in different orders,
// so where a row or column sum feeds an output the two may differ by about twice the CPU kernel
// tests' error bound (test/kernels/*.test.ts), which each side meets against a float64 reference.
// Values stored in bf16 may additionally differ by one bf16 rounding (2^-8 relative).
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { rng, record, check, assert, finish, loadVit, requireCuda, openDevices } = require('./check-harness.cjs');

const vit = loadVit();
const { toBf16, fromBf16 } = vit;

const U = 2 ** -23;
const BF = 2 ** -8;

/** n values uniform in [lo, hi), as f32. */
function uniform(r, n, lo, hi) {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** The values a tensor of `dtype` actually holds for `data` (bf16 rounds). */
function stored(dtype, data) {
  return dtype === 'bf16' ? fromBf16(toBf16(data)) : Float32Array.from(data);
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
function bothPoisoned(dtype, shape) {
  return [poisoned(cpu, dtype, shape), poisoned(gpu, dtype, shape)];
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


// ---- layer_norm ---------------------------------------------------------------------------------

const normCases = [];
for (const [rows, dim] of [[1, 1], [3, 3], [17, 17], [129, 64], [4099, 128], [3, 129], [17, 512], [5, 513], [33, 768], [7, 6144], [2, 10007]]) {
  for (const dtype of ['f32', 'bf16']) {
    normCases.push({ rows, dim, dtype, paramType: dtype, center: true, bias: true });
    normCases.push({ rows, dim, dtype, paramType: 'f32', center: false, bias: false });
  }
}
normCases.push({ rows: 257, dim: 96, dtype: 'bf16', paramType: 'f32', center: true, bias: false });
normCases.push({ rows: 19, dim: 1000, dtype: 'f32', paramType: 'bf16', center: false, bias: true });

for (const c of normCases) {
  const label = `rows=${c.rows} dim=${c.dim} ${c.dtype}/${c.paramType} ${c.center ? 'LayerNorm' : 'RMSNorm'}${c.bias ? '+bias' : ''}`;
  check(`layer_norm_fwd and layer_norm_bwd match the CPU, ${label}`, () => {
    const r = rng(c.rows * 7919 + c.dim);
    const { rows, dim } = c;
    const n = rows * dim;
    // Rows around a random offset, so that centering matters.
    const xData = new Float32Array(n);
    for (let i = 0; i < rows; i++) {
      const offset = (r() - 0.5) * 8;
      for (let j = 0; j < dim; j++) xData[i * dim + j] = offset + (r() * 2 - 1) * 2;
    }
    const scaleData = uniform(r, dim, 0.5, 1.5);
    const biasData = uniform(r, dim, -1, 1);
    const dyData = uniform(r, n, -1, 1);
    const eps = 1e-6;
    const x = both(c.dtype, [rows, dim], xData);
    const scale = both(c.paramType, [dim], scaleData);
    const bias = c.bias ? both(c.paramType, [dim], biasData) : [undefined, undefined];
    const y = bothPoisoned(c.dtype, [rows, dim]);
    const mean = bothPoisoned('f32', [rows]);
    const rstd = bothPoisoned('f32', [rows]);
    for (const k of [0, 1]) {
      const dev = k ? gpu : cpu;
      vit.layerNorm(dev, x[k], scale[k], y[k], { center: c.center, eps, bias: bias[k], mean: c.center ? mean[k] : undefined, rstd: rstd[k] });
    }
    const xs = stored(c.dtype, xData);
    const ss = stored(c.paramType, scaleData);
    const bs = stored(c.paramType, biasData);
    const cpuMean = c.center ? mean[0].toFloat32() : new Float32Array(rows);
    const cpuRstd = rstd[0].toFloat32();
    const sumBound = U * (dim / 16 + 16) * 2;
    const meanAbs = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += Math.abs(xs[i * dim + j]);
      meanAbs[i] = s / dim;
    }
    const details = [];
    const yWant = y[0].toFloat32();
    const yTol = (e) => {
      const i = Math.floor(e / dim);
      const j = e % dim;
      const xhat = Math.abs((xs[e] - cpuMean[i]) * cpuRstd[i]);
      const mag = Math.abs(ss[j]) * (xhat + cpuRstd[i] * meanAbs[i]) + (c.bias ? Math.abs(bs[j]) : 0);
      // bf16 y: the two f32 values may round to neighbouring bf16 values (2^-7 relative).
      return sumBound * mag + (c.dtype === 'bf16' ? 2 * BF * Math.abs(yWant[e]) : 0) + 1e-30;
    };
    details.push(compare('y', y[1].toFloat32(), yWant, yTol));
    if (c.center) details.push(compare('mean', mean[1].toFloat32(), cpuMean, (i) => sumBound * meanAbs[i] + 1e-30));
    details.push(compare('rstd', rstd[1].toFloat32(), cpuRstd, (i) => sumBound * cpuRstd[i]));

    // Backward from the CPU's saved statistics on both devices (only the backward is compared).
    const meanIn = both('f32', [rows], cpuMean);
    const rstdIn = both('f32', [rows], cpuRstd);
    const dy = both(c.dtype, [rows, dim], dyData);
    const dx = bothPoisoned(c.dtype, [rows, dim]);
    const dscale = bothPoisoned('f32', [dim]);
    const dbias = c.bias ? bothPoisoned('f32', [dim]) : [undefined, undefined];
    for (const k of [0, 1]) {
      const dev = k ? gpu : cpu;
      vit.layerNormBackward(
        dev,
        { x: x[k], scale: scale[k], dy: dy[k], mean: c.center ? meanIn[k] : undefined, rstd: rstdIn[k] },
        { dx: dx[k], dscale: dscale[k], dbias: dbias[k] },
        { center: c.center },
      );
    }
    const dys = stored(c.dtype, dyData);
    // Per-row magnitudes of the dx formula (the CPU kernel test's bound, doubled).
    const rowMag = new Float64Array(rows);
    const rowGx = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let mg = 0;
      let mgx = 0;
      for (let j = 0; j < dim; j++) {
        const g = dys[i * dim + j] * ss[j];
        const h = (xs[i * dim + j] - cpuMean[i]) * cpuRstd[i];
        mg += Math.abs(g);
        mgx += Math.abs(g * h);
      }
      rowMag[i] = mg / dim;
      rowGx[i] = mgx / dim;
    }
    const dxWant = dx[0].toFloat32();
    const dxTol = (e) => {
      const i = Math.floor(e / dim);
      const j = e % dim;
      const g = Math.abs(dys[e] * ss[j]);
      const h = Math.abs((xs[e] - cpuMean[i]) * cpuRstd[i]);
      const mag = cpuRstd[i] * (g + rowMag[i] + h * rowGx[i] + cpuRstd[i] * meanAbs[i] * (rowGx[i] + h * rowMag[i]));
      return 8 * U * (dim / 16 + 16) * mag + (c.dtype === 'bf16' ? 2 * BF * Math.abs(dxWant[e]) : 0) + 1e-30;
    };
    details.push(compare('dx', dx[1].toFloat32(), dxWant, dxTol));
    const colAbs = new Float64Array(dim);
    const colAbsB = new Float64Array(dim);
    for (let e = 0; e < rows * dim; e++) {
      const i = Math.floor(e / dim);
      const j = e % dim;
      colAbs[j] += Math.abs(dys[e] * (xs[e] - cpuMean[i]) * cpuRstd[i]);
      colAbsB[j] += Math.abs(dys[e]);
    }
    const colBound = 4 * U * (rows / 8 + 64 + dim / 16 + 16);
    details.push(compare('dscale', dscale[1].toFloat32(), dscale[0].toFloat32(), (j) => colBound * colAbs[j] + 1e-30));
    if (c.bias) details.push(compare('dbias', dbias[1].toFloat32(), dbias[0].toFloat32(), (j) => colBound * colAbsB[j] + 1e-30));
    freeAll();
    return details.join('; ');
  });
}

check('layer_norm_bwd with rows = 0 zeroes dscale and dbias', () => {
  const x = put(gpu, 'f32', [0, 5], new Float32Array(0));
  const dy = put(gpu, 'f32', [0, 5], new Float32Array(0));
  const dx = put(gpu, 'f32', [0, 5], new Float32Array(0));
  const scale = put(gpu, 'f32', [5], new Float32Array(5).fill(1));
  const rstd = put(gpu, 'f32', [0], new Float32Array(0));
  const dscale = poisoned(gpu, 'f32', [5]);
  const dbias = poisoned(gpu, 'f32', [5]);
  vit.layerNormBackward(gpu, { x, scale, dy, rstd }, { dx, dscale, dbias }, { center: false });
  const a = Array.from(dscale.toFloat32());
  const b = Array.from(dbias.toFloat32());
  freeAll();
  assert(a.every((v) => v === 0) && b.every((v) => v === 0), `dscale ${a}, dbias ${b}`);
});

// ---- layer_norm with row layouts and dresidual ----------------------------------------------------
// x, y, dy, dx, dresidual laid out by kernels.h RowLayout (row r at (r / groupRows) * groupStride +
// (r % groupRows) * dim) inside NaN-filled buffers with a tail, through raw launch specs. Checked:
// the GPU's laid-out results equal its own dense call on the gathered rows bitwise (layouts only
// move rows); GPU vs CPU with the dense checks' tolerances (dx: plus one rounding of the dresidual
// sum, 2u |dx| in f32); the elements outside the rows keep their poison on the GPU.

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
function lnValues(bitsRows, dtype) {
  return dtype === 'bf16' ? fromBf16(bitsRows) : new Float32Array(bitsRows.buffer, bitsRows.byteOffset, bitsRows.length);
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
  check(`layer_norm with row layouts: GPU laid out == GPU dense bitwise, GPU vs CPU, gaps untouched, ${label}`, () => {
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
     * Forward (statistics saved), then the backward from `stats` ([mean, rstd], the CPU's, so the
     * backward inputs are the same on both devices), on dev with layouts `lay`. Returns the rows of
     * y and dx (raw bits), mean, rstd, dscale, dbias and the first written gap of y and dx.
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
    // The CPU's statistics (dense run) feed every backward.
    const cpuDense = runOn(cpu, DENSE, null);
    const stats = [c.center ? cpuDense.mean : new Float32Array(rows), cpuDense.rstd];
    const cpuRef = runOn(cpu, DENSE, stats);
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

    // GPU vs CPU with the dense checks' tolerances.
    const xs = stored(dtype, xData);
    const ss = stored(dtype, scaleData);
    const bs = stored(dtype, biasData);
    const dys = stored(dtype, dyData);
    const [cpuMean, cpuRstd] = stats;
    const sumBound = U * (dim / 16 + 16) * 2;
    const meanAbs = new Float64Array(rows);
    const rowMag = new Float64Array(rows);
    const rowGx = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      let mg = 0;
      let mgx = 0;
      for (let j = 0; j < dim; j++) {
        const e = i * dim + j;
        s += Math.abs(xs[e]);
        const g = dys[e] * ss[j];
        mg += Math.abs(g);
        mgx += Math.abs(g * (xs[e] - cpuMean[i]) * cpuRstd[i]);
      }
      meanAbs[i] = s / dim;
      rowMag[i] = mg / dim;
      rowGx[i] = mgx / dim;
    }
    const details = [];
    const yWant = lnValues(cpuRef.yRows, dtype);
    details.push(compare('y', lnValues(gpuLaid.yRows, dtype), yWant, (e) => {
      const i = Math.floor(e / dim);
      const j = e % dim;
      const xhat = Math.abs((xs[e] - cpuMean[i]) * cpuRstd[i]);
      const mag = Math.abs(ss[j]) * (xhat + cpuRstd[i] * meanAbs[i]) + (c.bias ? Math.abs(bs[j]) : 0);
      return sumBound * mag + (dtype === 'bf16' ? 2 * BF * Math.abs(yWant[e]) : 0) + 1e-30;
    }));
    if (c.center) details.push(compare('mean', gpuLaid.mean, cpuDense.mean, (i) => sumBound * meanAbs[i] + 1e-30));
    details.push(compare('rstd', gpuLaid.rstd, cpuDense.rstd, (i) => sumBound * cpuDense.rstd[i]));
    const dxWant = lnValues(cpuRef.dxRows, dtype);
    details.push(compare('dx', lnValues(gpuLaid.dxRows, dtype), dxWant, (e) => {
      const i = Math.floor(e / dim);
      const j = e % dim;
      const g = Math.abs(dys[e] * ss[j]);
      const h = Math.abs((xs[e] - cpuMean[i]) * cpuRstd[i]);
      const mag = cpuRstd[i] * (g + rowMag[i] + h * rowGx[i] + cpuRstd[i] * meanAbs[i] * (rowGx[i] + h * rowMag[i]));
      // + the rounding of the dresidual sum on each side (f32; bf16's is in the 2^-7 term).
      const res = c.residual !== 'none' && dtype === 'f32' ? 2 * U * Math.abs(dxWant[e]) : 0;
      return 8 * U * (dim / 16 + 16) * mag + res + (dtype === 'bf16' ? 2 * BF * Math.abs(dxWant[e]) : 0) + 1e-30;
    }));
    const colAbs = new Float64Array(dim);
    const colAbsB = new Float64Array(dim);
    for (let e = 0; e < n; e++) {
      const i = Math.floor(e / dim);
      const j = e % dim;
      colAbs[j] += Math.abs(dys[e] * (xs[e] - cpuMean[i]) * cpuRstd[i]);
      colAbsB[j] += Math.abs(dys[e]);
    }
    const colBound = 4 * U * (rows / 8 + 64 + dim / 16 + 16);
    details.push(compare('dscale', gpuLaid.dscale, cpuRef.dscale, (j) => colBound * colAbs[j] + 1e-30));
    if (c.bias) details.push(compare('dbias', gpuLaid.dbias, cpuRef.dbias, (j) => colBound * colAbsB[j] + 1e-30));
    return details.join('; ');
  });
}

// ---- softmax_xent, sigmoid_xent, topk_accuracy ---------------------------------------------------

const lossCases = [];
for (const [n, c] of [[1, 1], [3, 3], [17, 17], [129, 10], [5, 1000], [3, 1025], [2, 21843], [600, 129]]) {
  for (const dtype of ['f32', 'bf16']) lossCases.push({ n, c, dtype });
}

for (const lc of lossCases) {
  for (const eps of [0, 0.1]) {
    check(`softmax_xent matches the CPU, n=${lc.n} c=${lc.c} ${lc.dtype} labelSmoothing=${eps}`, () => {
      const r = rng(lc.n * 31 + lc.c + (eps ? 1 : 0));
      const { n, c } = lc;
      const logits = uniform(r, n * c, -8, 8);
      // Without smoothing a -inf logit (not the label's) must give a finite loss, not NaN; with
      // smoothing its target is positive and the loss is +inf on both devices, so leave it out.
      if (c > 1 && eps === 0) logits[0] = -Infinity;
      const labels = Int32Array.from({ length: n }, (_, i) => (i === 0 && c > 1 ? 1 + Math.floor(r() * (c - 1)) : Math.floor(r() * c)));
      const x = both(lc.dtype, [n, c], logits);
      const lab = both('i32', [n], labels);
      const loss = bothPoisoned('f32', [n]);
      const dl = bothPoisoned(lc.dtype, [n, c]);
      const loss2 = bothPoisoned('f32', [n]);
      for (const k of [0, 1]) {
        const dev = k ? gpu : cpu;
        vit.softmaxCrossEntropy(dev, x[k], lab[k], loss[k], { dlogits: dl[k], labelSmoothing: eps, dscale: 2.5 });
        vit.softmaxCrossEntropy(dev, x[k], lab[k], loss2[k], { labelSmoothing: eps });
      }
      // Both compute in double and round once: equal up to the double sums' order (relative 1e-12)
      // and the one f32 (or bf16) rounding that this may flip.
      const lossWant = loss[0].toFloat32();
      const d = [compare('loss', loss[1].toFloat32(), lossWant, (i) => 2 * U * Math.abs(lossWant[i]) + 1e-6)];
      d.push(compare('loss (no dlogits)', loss2[1].toFloat32(), loss2[0].toFloat32(), (i) => 2 * U * Math.abs(lossWant[i]) + 1e-6));
      const dWant = dl[0].toFloat32();
      const rel = lc.dtype === 'bf16' ? 2 * BF : 2 * U;
      d.push(compare('dlogits', dl[1].toFloat32(), dWant, (i) => rel * Math.abs(dWant[i]) + 1e-12));
      for (let i = 0; i < n; i++) assert(Number.isFinite(lossWant[i]), `cpu loss ${i} not finite`);
      freeAll();
      return d.join('; ');
    });
  }
}

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

for (const lc of lossCases) {
  for (const eps of [0, 0.2]) {
    check(`sigmoid_xent matches the CPU, n=${lc.n} c=${lc.c} ${lc.dtype} labelSmoothing=${eps}`, () => {
      const r = rng(lc.n * 131 + lc.c + (eps ? 7 : 0));
      const { n, c } = lc;
      const logits = uniform(r, n * c, -12, 12);
      logits[0] = 100; // large |x|: the stable form must not overflow
      if (n * c > 1) logits[1] = -100;
      const targets = Float32Array.from({ length: n * c }, () => {
        const u = r();
        return u < 0.3 ? 0 : u > 0.7 ? 1 : u;
      });
      const x = both(lc.dtype, [n, c], logits);
      const t = both('f32', [n, c], targets);
      const loss = bothPoisoned('f32', [n]);
      const dl = bothPoisoned(lc.dtype, [n, c]);
      for (const k of [0, 1]) {
        const dev = k ? gpu : cpu;
        vit.sigmoidCrossEntropy(dev, x[k], t[k], loss[k], { dlogits: dl[k], labelSmoothing: eps, dscale: 0.5 });
      }
      const lossWant = loss[0].toFloat32();
      const xs = stored(lc.dtype, logits);
      const rowAbs = new Float64Array(n);
      for (let e = 0; e < n * c; e++) rowAbs[Math.floor(e / c)] += Math.abs(xs[e]) + 1;
      const d = [compare('loss', loss[1].toFloat32(), lossWant, (i) => 2 * U * Math.abs(lossWant[i]) + 1e-12 * rowAbs[i])];
      const dWant = dl[0].toFloat32();
      const rel = lc.dtype === 'bf16' ? 2 * BF : 2 * U;
      d.push(compare('dlogits', dl[1].toFloat32(), dWant, (i) => rel * Math.abs(dWant[i]) + 1e-12));
      freeAll();
      return d.join('; ');
    });
  }
}

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

for (const [n, c] of [[1, 1], [3, 3], [17, 17], [129, 10], [1000, 1000], [4099, 37], [3, 21843]]) {
  for (const dtype of ['f32', 'bf16']) {
    check(`topk_accuracy matches the CPU exactly, n=${n} c=${c} ${dtype}`, () => {
      const r = rng(n * 17 + c);
      // Few distinct values, so ties are common (ties go to the lowest index on both devices).
      const logits = Float32Array.from({ length: n * c }, () => Math.floor(r() * 6) / 2);
      if (n > 2) logits[2 * c] = Number.NaN; // row 2's label is 0: a NaN label logit never counts
      const labels = Int32Array.from({ length: n }, (_, i) => (i === 2 ? 0 : Math.floor(r() * c)));
      const x = both(dtype, [n, c], logits);
      const lab = both('i32', [n], labels);
      const out = [];
      for (const k of [1, 2, 5]) {
        const counts = bothPoisoned('i32', [2]);
        for (const kk of [0, 1]) vit.topkAccuracy(kk ? gpu : cpu, x[kk], lab[kk], counts[kk], { k });
        const want = Array.from(counts[0].download());
        const got = Array.from(counts[1].download());
        assert(got[0] === want[0] && got[1] === want[1], `k=${k}: gpu ${got}, cpu ${want}`);
        out.push(`k=${k}: ${got}`);
      }
      freeAll();
      return out.join('; ');
    });
  }
}

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

for (const n of [1, 3, 17, 129, 2047, 2049, 65537, (1 << 20) + 3]) {
  for (const gradType of ['f32', 'bf16']) {
    check(`adamw matches the CPU over 3 steps, n=${n} grad ${gradType}`, () => {
      const r = rng(n + (gradType === 'bf16' ? 1 : 0));
      const s = adamwState(r, n, gradType);
      const out = [];
      for (let step = 1; step <= 3; step++) {
        const o = { step, lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradScale: 0.7 };
        for (const k of [0, 1]) vit.adamw(k ? gpu : cpu, side(s, k), o);
        out.push(`step ${step}: ${compareAdamw(s, o)}`);
      }
      freeAll();
      return out.join('; ');
    });
  }
}

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

check('adamw_multi with one tensor and with an empty list', () => {
  const s = adamwState(rng(3), 1001, 'bf16');
  const o = { step: 2, lr: 1e-2 };
  for (const k of [0, 1]) vit.adamwMulti(k ? gpu : cpu, [side(s, k)], o);
  for (const k of [0, 1]) vit.adamwMulti(k ? gpu : cpu, [], o);
  const d = compareAdamw(s, o);
  freeAll();
  return d;
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

// The CPU kernel test's bounds (test/kernels/adafactor.test.ts), doubled for two implementations,
// with the GPU's different sum orders over rows/columns: vr, vc, v relative 8e-6; m (f32)
// 8e-6 (|m| + |u|); m stored in bf16: plus 2 * 2^-8 |m|; param 8e-6 |param| + 8e-6 lr (lrMult |m| + wd |param|)
// plus, for bf16 momentum, the effect of m's own f32 difference.
const adafactorCases = [];
for (const [rows, cols, factored] of [
  [1, 1, false], [1, 3, false], [17, 5, false], [3, 4099, false], [1, 100003, false],
  [3, 17, true], [32, 32, true], [33, 129, true], [129, 517, true], [600, 1000, true], [64, 6144, true], [5000, 40, true],
]) {
  for (const [gradType, momentumType] of [['f32', 'bf16'], ['bf16', 'f32'], ['bf16', 'bf16'], ['f32', 'f32']]) {
    adafactorCases.push({ rows, cols, factored, gradType, momentumType });
  }
}

for (const ac of adafactorCases) {
  for (const clipThreshold of [0, 0.5]) {
    const label = `[${ac.rows}, ${ac.cols}] ${ac.factored ? 'factored' : 'unfactored'} grad ${ac.gradType} momentum ${ac.momentumType} clip ${clipThreshold}`;
    check(`adafactor matches the CPU, ${label}`, () => {
      const r = rng(ac.rows * 1009 + ac.cols + clipThreshold * 10 + (ac.gradType === 'bf16' ? 3 : 0) + (ac.momentumType === 'bf16' ? 5 : 0));
      const { rows, cols } = ac;
      const n = rows * cols;
      const shape = [rows, cols];
      const gradData = uniform(r, n, -3, 3);
      for (let i = 0; i < n; i += 97) gradData[i] *= 1e-3; // a spread of magnitudes
      const t = {
        param: both('f32', shape, uniform(r, n, -1, 1)),
        grad: both(ac.gradType, shape, gradData),
        momentum: both(ac.momentumType, shape, uniform(r, n, -0.2, 0.2)),
      };
      if (ac.factored) {
        t.vr = both('f32', [rows], uniform(r, rows, 0.5, 2));
        t.vc = both('f32', [cols], uniform(r, cols, 0.5, 2));
      } else {
        t.v = both('f32', shape, uniform(r, n, 0.01, 2));
      }
      const o = {
        step: 5, lr: 0.03, lrMult: 0.5, weightDecay: 0.1, beta1: 0.9, gradScale: 0.8, clipThreshold,
        minDimToFactor: ac.factored ? 1 : 1 << 30,
      };
      for (const k of [0, 1]) {
        const tk = {};
        for (const [name, pair] of Object.entries(t)) tk[name] = pair[k];
        vit.adafactor(k ? gpu : cpu, tk, o);
      }
      const d = [];
      const R = 8e-6;
      // vr and vc: the CPU sums columns sequentially over 64-row blocks; the GPU over up to 1024 row
      // blocks whose partials are added sequentially: allow 3e-5 relative for 5000-row columns.
      for (const name of ac.factored ? ['vr', 'vc'] : ['v']) {
        const want = t[name][0].toFloat32();
        d.push(compare(name, t[name][1].toFloat32(), want, (i) => 3e-5 * Math.abs(want[i]) + 1e-30));
      }
      const mWant = t.momentum[0].toFloat32();
      const bfM = ac.momentumType === 'bf16';
      // m = 0.9 m + 0.1 u with |u| of order 1: u's relative difference (from the sum orders) is
      // far below R, so R * 20 (|m| + 1) is loose; a wrong formula is off by orders more.
      d.push(compare('momentum', t.momentum[1].toFloat32(), mWant, (i) => R * 20 * (Math.abs(mWant[i]) + 1) + (bfM ? 2 * BF * Math.abs(mWant[i]) : 0)));
      const pWant = t.param[0].toFloat32();
      // param moves by lr (lrMult m + wd param): m's f32 difference (the bound above) scaled by
      // lr * lrMult, plus rounding of param itself.
      d.push(compare('param', t.param[1].toFloat32(), pWant, (i) => R * Math.abs(pWant[i]) + o.lr * o.lrMult * R * 20 * (Math.abs(mWant[i]) + 1) + 1e-30));
      freeAll();
      return d.join('; ');
    });
  }
}

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
