#!/usr/bin/env node
// GPU checks of fused attention (native/cuda/attention.cu) that the kernel table
// (test/cases/attention_fwd.ts and attention_bwd.ts, run on the GPU by dist/kernel-checks.cjs, which
// compares the default paths, f32 and bf16 on the tensor cores, with the CPU in every layout) cannot
// say: the CUDA-core kernels that VIT22B_CUDA_ATTENTION=simt forces for bf16, on every shape up to
// 1024 tokens; the training path (the GPU backward on the GPU's own forward); determinism (two GPU
// runs give the same bits); and the GPU's typed errors. attention_fwd and attention_bwd run on the
// `cuda` device against the `cpu` backend (whose semantics test/kernels/attention.test.ts proves
// against a float64 reference) on the same seeded random inputs, in plain JavaScript over dist/.
// Run: `node test/gpu/attention-checks.cjs` (after `npm run build:ts` and the CUDA addon build);
// test/gpu/cuda-device.test.ts runs it under `npm run test:gpu`. Prints one JSON object
// { checks: [{ name, ok, detail }] } and exits 1 on any failure.
//
// What each case covers:
//   layouts: 'dense' (every operand its own [B, T, H*Dh] buffer), 'fused' (Q, K, V read from and
//   dQ, dK, dV written into one [B, T, 3D + F] buffer, as the fused projection does; O a view at
//   column 1 of a wider buffer) and 'map' (the MAP head: Tq != Tk, queries from a probe, K and V
//   from a fused [B, Tk, 2D + F] buffer);
//   every output buffer is NaN-poisoned first (f32 NaN, bf16 0x7fc0 / 0xffff): each element inside
//   a view must come back finite and close to the CPU, each element outside bit-identical poison;
//   the backward of the GPU is fed the CPU's O and lse (so it is compared on identical inputs),
//   except on the training path.
// Tolerances (per element, c the CPU value, M the largest |c| of that output):
//   f32:  |gpu - c| <= 2e-4 * M + 1e-6     (f32 sums in another order; indexing bugs are O(M))
//   bf16: |gpu - c| <= 2^-7 * |c| + 2^-9 * M + 1e-6   (one bf16 rounding of slightly different f32)
//   bf16, tensor cores: |gpu - c| <= 2^-7 * |c| + 2^-7 * M + 1e-6   (P and dS are rounded to bf16
//         before their products there, a relative 2^-9 on each term)
//   lse:  |gpu - c| <= 2e-5 * (1 + |c|)
'use strict';
const { rng, check, assert, finish, loadVit, requireCuda } = require('./check-harness.cjs');

const vit = loadVit('dist/ loads', 'build the package first (npm run build:ts)');
const { openDevice, attentionForward, attentionBackward } = vit;

const f32Bits = new Uint32Array(1);
const f32View = new Float32Array(f32Bits.buffer);
function bf16ToNumber(bits) {
  f32Bits[0] = (bits & 0xffff) << 16;
  return f32View[0];
}

// ---- Case layout: buffers [B, T, W] and the views of the operands inside them.

const OPERANDS = ['q', 'k', 'v', 'o', 'dO', 'dQ', 'dK', 'dV'];
const QUERY_SIDE = new Set(['q', 'o', 'dO', 'dQ']);

function layoutOf(c) {
  const D = c.h * c.dh, F = 5;
  const buffers = {}; // name -> { t, w, output, poison }
  const views = {}; // operand -> { buf, col }
  const add = (name, t, w, output, poison) => (buffers[name] = { t, w, output, poison });
  if (c.layout === 'fused') {
    assert(c.tq === c.tk, 'fused layout needs tq == tk');
    add('y', c.tq, 3 * D + F, false);
    add('dy', c.tq, 3 * D + F, true, 'nan');
    add('o', c.tq, D + 3, true, 'ones');
    add('dO', c.tq, D, false);
    Object.assign(views, { q: { buf: 'y', col: 0 }, k: { buf: 'y', col: D }, v: { buf: 'y', col: 2 * D }, dQ: { buf: 'dy', col: 0 }, dK: { buf: 'dy', col: D }, dV: { buf: 'dy', col: 2 * D }, o: { buf: 'o', col: 1 }, dO: { buf: 'dO', col: 0 } });
  } else if (c.layout === 'map') {
    add('probe', c.tq, D, false);
    add('kv', c.tk, 2 * D + F, false);
    add('o', c.tq, D, true, 'nan');
    add('dO', c.tq, D, false);
    add('dprobe', c.tq, D + 2, true, 'ones');
    add('dkv', c.tk, 2 * D + F, true, 'nan');
    Object.assign(views, { q: { buf: 'probe', col: 0 }, k: { buf: 'kv', col: 0 }, v: { buf: 'kv', col: D }, o: { buf: 'o', col: 0 }, dO: { buf: 'dO', col: 0 }, dQ: { buf: 'dprobe', col: 2 }, dK: { buf: 'dkv', col: 0 }, dV: { buf: 'dkv', col: D } });
  } else {
    for (const n of OPERANDS) {
      const out = n === 'o' || n === 'dQ' || n === 'dK' || n === 'dV';
      add(n, QUERY_SIDE.has(n) ? c.tq : c.tk, D, out, n === 'dK' ? 'ones' : 'nan');
      views[n] = { buf: n, col: 0 };
    }
  }
  return { buffers, views };
}

// Poison of an output buffer: f32 NaN; bf16 the quiet NaN 0x7fc0 or all ones (0xffff).
function poisonArray(dtype, size, kind) {
  if (dtype === 'f32') return new Float32Array(size).fill(Number.NaN);
  return new Uint16Array(size).fill(kind === 'ones' ? 0xffff : 0x7fc0);
}

function makeInputs(c, lay) {
  const r = rng(c.seed);
  const host = {};
  for (const [name, b] of Object.entries(lay.buffers)) {
    if (b.output) continue;
    const size = c.b * b.t * b.w;
    const amp = name === 'dO' ? 1 : c.amp;
    const x = Float32Array.from({ length: size }, () => (r() * 2 - 1) * amp);
    host[name] = c.dtype === 'f32' ? x : vit.toBf16(x);
  }
  return host;
}

// Element indices of a view inside its buffer.
function viewMask(c, lay, operand) {
  const { buf, col } = lay.views[operand];
  const b = lay.buffers[buf];
  const t = QUERY_SIDE.has(operand) ? c.tq : c.tk;
  const idx = [];
  for (let bi = 0; bi < c.b; bi++)
    for (let ti = 0; ti < t; ti++)
      for (let hi = 0; hi < c.h; hi++)
        for (let d = 0; d < c.dh; d++) idx.push(bi * b.t * b.w + ti * b.w + col + hi * c.dh + d);
  return idx;
}

/**
 * Forward then backward on `device`. With `given` ({ o, lse } host arrays), the backward reads
 * those instead of this device's own forward results. Returns every output buffer and lse.
 */
function runCase(device, c, lay, host, given, timing) {
  const t = {};
  const all = [];
  try {
    for (const [name, b] of Object.entries(lay.buffers)) {
      const shape = [c.b, b.t, b.w];
      const data = b.output ? poisonArray(c.dtype, c.b * b.t * b.w, b.poison) : host[name];
      t[name] = device.tensor(c.dtype, shape, data);
      all.push(t[name]);
    }
    const lse = device.tensor('f32', [c.b, c.h, c.tq], new Float32Array(c.b * c.h * c.tq).fill(Number.NaN));
    all.push(lse);
    const view = (operand) => {
      const { buf, col } = lay.views[operand];
      const b = lay.buffers[buf];
      const tt = QUERY_SIDE.has(operand) ? c.tq : c.tk;
      return { tensor: t[buf], shape: [c.b, tt, c.h, c.dh], offset: col, batchStride: b.t * b.w, tokenStride: b.w, headStride: c.dh };
    };
    const opts = { scale: c.scale };
    const t0 = process.hrtime.bigint();
    attentionForward(device, { q: view('q'), k: view('k'), v: view('v'), o: view('o'), lse }, opts);
    device.synchronize();
    const t1 = process.hrtime.bigint();
    const fwd = { o: t.o.download(), lse: lse.download() };
    if (given) {
      t.o.upload(given.o);
      lse.upload(given.lse);
    }
    device.synchronize();
    const t2 = process.hrtime.bigint();
    attentionBackward(device, { q: view('q'), k: view('k'), v: view('v'), o: view('o'), dO: view('dO'), lse, dQ: view('dQ'), dK: view('dK'), dV: view('dV') }, opts);
    device.synchronize();
    const t3 = process.hrtime.bigint();
    if (timing) Object.assign(timing, { fwdMs: Number(t1 - t0) / 1e6, bwdMs: Number(t3 - t2) / 1e6 });
    const out = { fwd, bufs: {} };
    for (const [name, b] of Object.entries(lay.buffers)) if (b.output && name !== 'o') out.bufs[name] = t[name].download();
    return out;
  } finally {
    for (const x of all) x.dispose();
  }
}

// Which CUDA path a case takes (native/cuda/attention.cu's rule).
function tensorCores(c) {
  return c.dtype === 'bf16' && c.dh <= 128 && c.mode !== 'simt';
}

// Runs fn with VIT22B_CUDA_ATTENTION set for the mode ('simt' forces the CUDA-core kernels).
function inMode(mode, fn) {
  const before = process.env.VIT22B_CUDA_ATTENTION;
  if (mode === 'simt') process.env.VIT22B_CUDA_ATTENTION = 'simt';
  else delete process.env.VIT22B_CUDA_ATTENTION;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.VIT22B_CUDA_ATTENTION;
    else process.env.VIT22B_CUDA_ATTENTION = before;
  }
}

function value(dtype, arr, i) {
  return dtype === 'f32' ? arr[i] : bf16ToNumber(arr[i]);
}

/** Compares one operand's view of a GPU buffer with the CPU's, and the poison outside the views. */
function compareView(c, name, idx, gpu, cpu) {
  let M = 0;
  for (const i of idx) M = Math.max(M, Math.abs(value(c.dtype, cpu, i)));
  let worst = 0;
  for (const i of idx) {
    const g = value(c.dtype, gpu, i), x = value(c.dtype, cpu, i);
    assert(Number.isFinite(x), `${name}: the CPU value at ${i} is ${x}`);
    assert(Number.isFinite(g), `${name}: element ${i} is ${g} (unwritten or overflowed)`);
    const bound = c.dtype === 'f32' ? 2e-4 * M + 1e-6 : 2 ** -7 * Math.abs(x) + (tensorCores(c) ? 2 ** -7 : 2 ** -9) * M + 1e-6;
    const err = Math.abs(g - x);
    assert(err <= bound, `${name}: element ${i}: gpu ${g} cpu ${x} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`);
    worst = Math.max(worst, err / (M + 1e-30));
  }
  return worst;
}

function comparePoison(name, idxSets, gpu, poison) {
  const inside = new Uint8Array(gpu.length);
  for (const idx of idxSets) for (const i of idx) inside[i] = 1;
  for (let i = 0; i < gpu.length; i++) {
    if (inside[i]) continue;
    const same = Number.isNaN(poison[i]) ? Number.isNaN(gpu[i]) : gpu[i] === poison[i];
    assert(same, `${name}: element ${i} outside every view was written (${gpu[i]})`);
  }
}

function compareLse(gpu, cpu) {
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) {
    assert(Number.isFinite(gpu[i]), `lse[${i}] is ${gpu[i]}`);
    const err = Math.abs(gpu[i] - cpu[i]);
    assert(err <= 2e-5 * (1 + Math.abs(cpu[i])), `lse[${i}]: gpu ${gpu[i]} cpu ${cpu[i]}`);
    worst = Math.max(worst, err / (1 + Math.abs(cpu[i])));
  }
  return worst;
}

// Which operands live in each output buffer.
function outputsOf(lay) {
  const map = {};
  for (const n of ['o', 'dQ', 'dK', 'dV']) (map[lay.views[n].buf] ??= []).push(n);
  return map;
}

function bitsEqual(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// ---- The checks

// VIT22B_ATTENTION_CHECKS_DEVICE=cpu runs every check with the CPU in the GPU's place: a dry run
// of this script itself on a machine without a GPU (everything must pass, trivially).
// (VIT22B_GPU_CHECKS_DEVICE=cpu, the dry run of every check script, does the same.)
const target = process.env.VIT22B_ATTENTION_CHECKS_DEVICE ?? 'cuda';
if (target === 'cuda') requireCuda('CUDA available');

let cpu, gpu;
check('the cpu and cuda devices open', () => {
  cpu = openDevice({ device: 'cpu' });
  gpu = openDevice({ device: target });
  return gpu.name;
});

// [B, H, Tq, Tk, Dh, layout]; scale 1/sqrt(Dh) unless given, inputs in [-amp, amp).
const SHAPES = [
  [1, 1, 1, 1, 1, 'dense'],
  [2, 3, 1, 17, 32, 'map'],
  [2, 2, 17, 17, 64, 'fused'],
  [1, 2, 49, 49, 128, 'fused'],
  [1, 3, 5, 7, 17, 'dense'],
  [1, 1, 33, 70, 256, 'dense'],
  [2, 2, 197, 197, 64, 'fused'],
  [1, 2, 1, 197, 128, 'map'],
  [1, 1, 256, 256, 32, 'dense'],
  [1, 2, 1024, 1024, 64, 'fused'],
  [1, 1, 1024, 1024, 128, 'fused'],
  [1, 2, 0, 5, 32, 'map'], // no queries: the backward still writes dK = dV = 0
];

// f32 and bf16 on their default paths are the table's (every layout, Tq 0 included); bf16 forced
// onto the CUDA cores is not: the environment variable is read at each call, which a case cannot set.
let seed = 1;
for (const [dtype, mode] of [['bf16', 'simt']]) {
  for (const [b, h, tq, tk, dh, layout] of SHAPES) {
    if (mode === 'simt' && dh > 128) continue; // bf16 Dh 256 runs on the CUDA cores anyway: the table's
    const c = { dtype, mode, b, h, tq, tk, dh, layout, scale: 1 / Math.sqrt(dh), amp: 1, seed: seed++ };
    const path = dtype === 'f32' || dh > 128 || mode === 'simt' ? 'cuda cores' : 'tensor cores';
    const name = `${dtype} B${b} H${h} Tq${tq} Tk${tk} Dh${dh} ${layout} (${path})`;
    if (!gpu) break;
    check(`attention fwd and bwd match the CPU: ${name}`, () => {
      const lay = layoutOf(c);
      const host = makeInputs(c, lay);
      const want = runCase(cpu, c, lay, host, null);
      const timing = {};
      const got = inMode(c.mode, () => runCase(gpu, c, lay, host, want.fwd, timing));
      const owners = outputsOf(lay);
      const worst = {};
      // Forward: O (its buffer, poison around the view) and lse.
      const oIdx = viewMask(c, lay, 'o');
      worst.o = compareView(c, 'o', oIdx, got.fwd.o, want.fwd.o);
      comparePoison('o buffer', [oIdx], got.fwd.o, poisonArray(dtype, got.fwd.o.length, lay.buffers.o.poison));
      worst.lse = compareLse(got.fwd.lse, want.fwd.lse);
      // Backward, on the CPU's O and lse.
      for (const [buf, ops] of Object.entries(owners)) {
        if (buf === 'o') continue;
        const sets = ops.map((n) => viewMask(c, lay, n));
        ops.forEach((n, k) => (worst[n] = compareView(c, n, sets[k], got.bufs[buf], want.bufs[buf])));
        comparePoison(`${buf} buffer`, sets, got.bufs[buf], poisonArray(dtype, got.bufs[buf].length, lay.buffers[buf].poison));
      }
      const w = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ');
      return `worst |diff|/max: ${w}; gpu fwd ${timing.fwdMs.toFixed(2)} ms, bwd ${timing.bwdMs.toFixed(2)} ms (first calls include setup)`;
    });
  }
}

if (gpu) {
  // Large logits: scale 1 and |q|, |k| up to 2 with Dh 64 give scores in the tens: the running max
  // must be subtracted (exp would overflow otherwise) and rescaled across key blocks. The default
  // paths meet large logits in the table (attention_fwd.ts, attention_bwd.ts); the CUDA cores here.
  for (const [dtype, mode] of [['bf16', 'simt']]) {
    check(`large scores stay finite and match the CPU (${dtype} ${mode}, scale 1)`, () => {
      const c = { dtype, mode, b: 1, h: 2, tq: 70, tk: 150, dh: 64, layout: 'dense', scale: 1, amp: 2, seed: 500 };
      const lay = layoutOf(c);
      const host = makeInputs(c, lay);
      const want = runCase(cpu, c, lay, host, null);
      const got = inMode(mode, () => runCase(gpu, c, lay, host, want.fwd));
      const maxLse = Math.max(...want.fwd.lse.map(Math.abs));
      assert(maxLse > 10, `scores not large enough (max |lse| ${maxLse})`);
      compareView(c, 'o', viewMask(c, lay, 'o'), got.fwd.o, want.fwd.o);
      compareLse(got.fwd.lse, want.fwd.lse);
      for (const n of ['dQ', 'dK', 'dV']) compareView(c, n, viewMask(c, lay, n), got.bufs[n], want.bufs[n]);
      return `max |lse| ${maxLse.toFixed(1)}`;
    });
  }

  // The training path: the GPU backward on the GPU's own forward, against the CPU doing the same.
  for (const [dtype, mode] of [['f32', 'default'], ['bf16', 'default'], ['bf16', 'simt']]) {
    check(`training path: GPU backward on its own forward (${dtype} ${mode})`, () => {
      const c = { dtype, mode, b: 2, h: 3, tq: 67, tk: 67, dh: 64, layout: 'fused', scale: 0.125, amp: 1, seed: 600 };
      const lay = layoutOf(c);
      const host = makeInputs(c, lay);
      const want = runCase(cpu, c, lay, host, null);
      const got = inMode(mode, () => runCase(gpu, c, lay, host, null));
      // bf16: the two forwards may round O differently by one ulp, which D carries into dQ and dK.
      const sets = ['dQ', 'dK', 'dV'].map((n) => viewMask(c, lay, n));
      ['dQ', 'dK', 'dV'].forEach((n, k) => compareView(c, n, sets[k], got.bufs.dy, want.bufs.dy));
    });
  }

  // Determinism: the same inputs twice give the same bits (no atomics, fixed summation orders).
  for (const [dtype, mode, shape] of [
    ['f32', 'default', [2, 2, 197, 197, 64, 'fused']],
    ['bf16', 'default', [1, 2, 1024, 1024, 128, 'fused']],
    ['bf16', 'simt', [1, 2, 1024, 1024, 64, 'fused']],
    ['f32', 'default', [1, 4, 1, 300, 256, 'map']],
  ]) {
    const [b, h, tq, tk, dh, layout] = shape;
    check(`two GPU runs give the same bits: ${dtype} ${mode} B${b} H${h} Tq${tq} Tk${tk} Dh${dh} ${layout}`, () => {
      const c = { dtype, mode, b, h, tq, tk, dh, layout, scale: 1 / Math.sqrt(dh), amp: 1, seed: 700 + tq };
      const lay = layoutOf(c);
      const host = makeInputs(c, lay);
      const a = inMode(mode, () => runCase(gpu, c, lay, host, null));
      const r = inMode(mode, () => runCase(gpu, c, lay, host, null));
      assert(bitsEqual(a.fwd.o, r.fwd.o), 'o differs between runs');
      assert(bitsEqual(a.fwd.lse, r.fwd.lse), 'lse differs between runs');
      for (const n of Object.keys(a.bufs)) assert(bitsEqual(a.bufs[n], r.bufs[n]), `${n} differs between runs`);
    });
  }

  check('typed errors: head dims above 256 and a key-less softmax are refused', () => {
    const q = gpu.alloc('f32', [1, 2, 1, 300]);
    const lse = gpu.alloc('f32', [1, 1, 2]);
    let code;
    try {
      attentionForward(gpu, { q, k: q, v: q, o: q, lse });
    } catch (e) {
      code = e.code;
    }
    assert(code === 'ERR_INVALID_ARGUMENT', `head dim 300 gave ${code}`);
    const q2 = gpu.alloc('f32', [1, 2, 1, 8]), k0 = gpu.alloc('f32', [1, 0, 1, 8]);
    code = undefined;
    try {
      attentionForward(gpu, { q: q2, k: k0, v: k0, o: q2, lse });
    } catch (e) {
      code = e.code;
    }
    assert(code === 'ERR_INVALID_ARGUMENT', `tk = 0 gave ${code}`);
    for (const t of [q, lse, q2, k0]) t.dispose();
  });
}

if (cpu) cpu.dispose();
if (gpu) gpu.dispose();
finish();
