#!/usr/bin/env node
// GPU checks of the elementwise / reduction / random kernels (native/cuda: cast, gelu, reduce_sum,
// global_norm, assert_finite, mean_pool, philox, random_init) that the kernel table
// (test/cases/<kernel>.ts, run on the GPU by dist/kernel-checks.cjs) cannot say: grid-stride loops
// past the largest grid (2^24 + 3 elements; 2^22 + 1 philox blocks), NaN payloads (the table's
// float64 data carries one NaN), GELU at extreme and zero arguments with a per-element bound (one
// { abs, rel } per output cannot bound 1e30 and 1e-30 together), in place giving the out-of-place
// bits, determinism (two GPU runs bitwise equal), the GPU's typed errors, and mean_pool's bitwise
// promise (the table compares mean_pool within its float64 tolerance). Each kernel runs on the
// `cuda` device and on the `cpu` device on the same seeded random inputs, outputs poisoned
// beforehand (f32 NaN, bf16 0xffff, i32 0xdeadbeef) so an element the GPU forgets to write shows.
// Plain JavaScript over dist/ (`npm run build:ts` first); run with
//   node test/gpu/elementwise-checks.cjs
// Prints one JSON object { checks: [{ name, ok, detail }] }; exits 1 on any failure (also, with one
// failed check saying why, where CUDA is unavailable).
//
// Tolerances (what the CUDA code promises, see the headers of native/cuda/<op>.cu):
//   bitwise equal: cast, mean_pool (fwd and bwd), philox, random_init; in-place GELU against
//     out-of-place GELU on the GPU;
//   GELU erf form: CUDA's erfcf/expf are not glibc's: |d| <= 2^-19 (|cpu| + |x|) (tanh: 2^-21),
//     per element; bf16 GELU: one bf16 rounding apart (2^-7 relative) when the f32 values differ;
//   reduce_sum / global_norm: both sum in double and round once; the orders differ, so
//     |d| <= 2^-22 |cpu| + 2^-40 sum|x|; and two GPU runs are bitwise equal (determinism).
'use strict';
const harness = require('./check-harness.cjs');
const { rng, assert, finish, loadVit, requireCuda, openDevices } = harness;

const vit = loadVit();
const {
  toBf16, cast, gelu, geluBackward, reduceSum, sumOfSquares, globalNorm, assertFinite, meanPool,
  meanPoolBackward, philox, randomInit,
} = vit;

// VIT22B_CHECKS_SELF_TEST=1 runs the script with a second CPU device in the GPU's place: it proves
// the script itself (inputs, comparisons, disposal) on a machine without a GPU; it checks no GPU code.
// (VIT22B_GPU_CHECKS_DEVICE=cpu, the dry run of every check script, does the same.)
const selfTest = process.env.VIT22B_CHECKS_SELF_TEST === '1';

if (!selfTest) requireCuda('CUDA available');

const { cpu, gpu } = openDevices('open the cpu and cuda devices', selfTest ? 'cpu' : 'cuda');

// ---- helpers ----

function randomF32(n, seed, lo = -4, hi = 4) {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

// Tensors made during one check, disposed after it whatever happens.
let live = [];
function mk(dev, dtype, shape, data) {
  const t = data === undefined ? dev.alloc(dtype, shape) : dev.tensor(dtype, shape, data);
  live.push(t);
  return t;
}
function sizeOf(shape) {
  return shape.reduce((a, b) => a * b, 1);
}
function poisonData(dtype, n) {
  if (dtype === 'f32') return new Float32Array(n).fill(Number.NaN);
  if (dtype === 'bf16') return new Uint16Array(n).fill(0xffff);
  return new Int32Array(n).fill(0xdeadbeef | 0);
}
/** A tensor on `dev` filled with the dtype's poison pattern. */
function poisoned(dev, dtype, shape) {
  return mk(dev, dtype, shape, poisonData(dtype, sizeOf(shape)));
}
/** The same host data on both devices: [cpuTensor, gpuTensor]. */
function both(dtype, shape, data) {
  return [mk(cpu, dtype, shape, data), mk(gpu, dtype, shape, data)];
}
function bothPoisoned(dtype, shape) {
  return [poisoned(cpu, dtype, shape), poisoned(gpu, dtype, shape)];
}
function bitsOf(arr) {
  if (arr instanceof Float32Array) return new Uint32Array(arr.buffer, arr.byteOffset, arr.length);
  return arr;
}
function hex(v, width) {
  return '0x' + (v >>> 0).toString(16).padStart(width, '0');
}
/** Bitwise equality of two downloads (raw storage). */
function assertBitwise(want, got, what) {
  const w = bitsOf(want), g = bitsOf(got);
  if (w.length !== g.length) throw new Error(`${what}: length ${g.length}, want ${w.length}`);
  const width = want instanceof Uint16Array ? 4 : 8;
  let bad = 0, first = -1;
  for (let i = 0; i < w.length; i++) {
    if (w[i] !== g[i]) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw new Error(`${what}: ${bad} of ${w.length} elements differ; first i=${first}: gpu ${hex(g[first], width)} cpu ${hex(w[first], width)}`);
  }
}
function widen(arr) {
  if (arr instanceof Uint16Array) return vit.fromBf16(arr);
  return arr;
}
/**
 * |gpu - cpu| <= tol(i, cpu) elementwise, NaN only where the CPU has NaN (so an unwritten, NaN-
 * poisoned element fails unless the CPU computed a NaN there too, which inputs here never produce
 * except where stated). Returns the worst |d| / tol.
 */
function assertClose(want, got, tol, what) {
  const w = widen(want), g = widen(got);
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    if (Number.isNaN(w[i]) || Number.isNaN(g[i])) {
      if (Number.isNaN(w[i]) && Number.isNaN(g[i])) continue;
      throw new Error(`${what} i=${i}: gpu ${g[i]} cpu ${w[i]}`);
    }
    if (w[i] === g[i]) continue;
    const t = tol(i, w[i]);
    const d = Math.abs(g[i] - w[i]);
    if (!(d <= t)) throw new Error(`${what} i=${i}: gpu ${g[i]} cpu ${w[i]} (|d| ${d.toExponential(3)} > ${t.toExponential(3)})`);
    worst = Math.max(worst, d / t);
  }
  return worst;
}

/** A check (see check-harness.cjs) that disposes the tensors it made, whatever happens. */
function check(name, fn) {
  try {
    harness.check(name, fn);
  } finally {
    for (const t of live) {
      try {
        t.dispose();
      } catch {
        // already disposed
      }
    }
    live = [];
  }
}
function errorOf(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// f32 values that exercise conversions: NaNs (quiet, signalling, negative), infinities, zeros,
// subnormals, the largest finite, bf16 rounding ties (to even both ways), and values that round up
// into the next binade or to infinity.
function specialF32() {
  const bits = [
    0x7fc00000, 0x7f800001, 0xffc00001, 0x7fbfffff, 0x7f800000, 0xff800000, 0x00000000, 0x80000000,
    0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f808000, 0x3f818000,
    0x3f80c000, 0x3f7fffff, 0x3fffffff, 0x7f7f8000, 0x7f7f7fff, 0x3f800001, 0x3f807fff, 0xbf808000,
  ];
  const u = Uint32Array.from(bits);
  return new Float32Array(u.buffer);
}

function withSpecials(x) {
  const s = specialF32();
  const u = bitsOf(x);
  const su = bitsOf(s);
  for (let i = 0; i < Math.min(u.length, su.length); i++) u[(i * 7) % u.length] = su[i];
  return x;
}

// ---- cast ----

// Sizes up to 70001 are the table's (cast.ts, bitwise); 2^24 + 3 elements run the grid-stride loop
// (16384 blocks of 256 threads cover 2^22), and the specials keep their NaN payloads here.
{
  const n = (1 << 24) + 3;
  check(`cast f32<->bf16 and copies are bitwise the CPU's, n=${n} (grid-stride loop, NaN payloads)`, () => {
    const x = withSpecials(randomF32(n, n, -3e38, 3e38));
    // Half the values small so bf16 rounding of ordinary numbers is covered too.
    const r = rng(n + 1);
    for (let i = 0; i < n; i += 2) x[i] = (r() - 0.5) * 8;
    const [cx, gx] = both('f32', [n], x);
    const [cb, gb] = bothPoisoned('bf16', [n]);
    cast(cpu, cx, cb);
    cast(gpu, gx, gb);
    assertBitwise(cb.download(), gb.download(), 'f32 -> bf16');
    // bf16 -> f32 of every bf16 pattern the previous step made (NaNs included).
    const [cf, gf] = bothPoisoned('f32', [n]);
    cast(cpu, cb, cf);
    cast(gpu, gb, gf);
    assertBitwise(cf.download(), gf.download(), 'bf16 -> f32');
    const [c2, g2] = bothPoisoned('f32', [n]);
    cast(cpu, cx, c2);
    cast(gpu, gx, g2);
    assertBitwise(c2.download(), g2.download(), 'f32 -> f32');
    const [c3, g3] = bothPoisoned('bf16', [n]);
    cast(cpu, cb, c3);
    cast(gpu, gb, g3);
    assertBitwise(c3.download(), g3.download(), 'bf16 -> bf16');
    return 'bitwise equal';
  });
}

// ---- gelu ----

// The table (gelu_fwd.ts, gelu_bwd.ts) checks every layout with inputs up to |x| = 16 and one
// { abs, rel } per output. Here: zeros, tiny, huge and infinite-bound arguments (|x| up to 1e30,
// where GELU is x or -0) and magnitudes from 2^-30 to 2^7 in one matrix, each element within its
// own bound (the scale |x| of its own input), plus a column range whose outside must be a bitwise
// copy, and in place (y = x, dx = dy) giving the out-of-place bits.
function geluInputs(n, seed) {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() < 0.5 ? -1 : 1) * 2 ** (-30 + 37 * r());
  const extra = [0, -0, 1e-30, -1e-30, 2 ** -20, -(2 ** -20), 5, -5, 9.5, -9.5, 13, -13, 16, -16, 40, -40, 100, -100, 1e4, -1e4, 1e30, -1e30];
  for (let i = 0; i < Math.min(n, extra.length); i++) x[(i * 13) % n] = extra[i];
  return x;
}

// The tolerance of one GELU output element (see the header). `scale` bounds the size of the terms
// that were added: |x| for the forward, |dy| (1 + |x|) for the backward.
function geluTol(form, dtype, scale) {
  const rel = form === 'tanh' ? 2 ** -21 : 2 ** -19;
  return (i, w) => {
    const f32 = rel * Math.abs(w) + rel * scale(i) + 1e-37;
    return dtype === 'f32' ? f32 : f32 + 2 ** -7 * Math.abs(w);
  };
}

{
  const [rows, cols] = [5, 131];
  check(`gelu fwd and bwd at extreme and zero arguments, per-element bounds, in place, tanh and erf, f32 and bf16, [${rows}, ${cols}]`, () => {
    const n = rows * cols;
    const x = geluInputs(n, 4711);
    const dy = randomF32(n, 4712, -2, 2);
    let worst = 0;
    for (const dtype of ['f32', 'bf16']) {
      const xs = dtype === 'f32' ? x : toBf16(x);
      const dys = dtype === 'f32' ? dy : toBf16(dy);
      const xv = widen(xs), dyv = widen(dys);
      for (const form of ['tanh', 'erf']) {
        for (const columns of [[0, cols], [3, cols - 5]]) {
          const opts = { form, columns };
          const what = `${dtype} ${form} columns [${columns}]`;
          const [cx, gx] = both(dtype, [rows, cols], xs);
          const [cy, gy] = bothPoisoned(dtype, [rows, cols]);
          gelu(cpu, cx, cy, opts);
          gelu(gpu, gx, gy, opts);
          const gotY = gy.download();
          worst = Math.max(worst, assertClose(cy.download(), gotY, geluTol(form, dtype, (i) => Math.abs(xv[i])), `fwd ${what}`));
          // Outside the range the output is the input, bit for bit.
          const yb = bitsOf(gotY), xb = bitsOf(xs);
          for (let i = 0; i < n; i++) {
            const c = i % cols;
            if ((c < columns[0] || c >= columns[1]) && yb[i] !== xb[i]) throw new Error(`fwd ${what}: outside the range, element ${i} is not a copy of x`);
          }
          const [cdy, gdy] = both(dtype, [rows, cols], dys);
          const [cdx, gdx] = bothPoisoned(dtype, [rows, cols]);
          geluBackward(cpu, cx, cdy, cdx, opts);
          geluBackward(gpu, gx, gdy, gdx, opts);
          const gotDx = gdx.download();
          worst = Math.max(worst, assertClose(cdx.download(), gotDx, geluTol(form, dtype, (i) => Math.abs(dyv[i]) * (1 + Math.abs(xv[i]))), `bwd ${what}`));
          // In place (y = x, dx = dy) on the GPU: the out-of-place bits.
          gelu(gpu, gx, gx, opts);
          assertBitwise(gotY, gx.download(), `fwd in place ${what}`);
          const [, gx2] = both(dtype, [rows, cols], xs);
          geluBackward(gpu, gx2, gdy, gdy, opts);
          assertBitwise(gotDx, gdy.download(), `bwd in place ${what}`);
          for (const t of live) t.dispose();
          live = [];
        }
      }
    }
    return `worst |d|/tol ${worst.toExponential(2)}`;
  });
}

// ---- reduce_sum, global_norm ----

// Kept whole: every check also runs the GPU twice and wants the same bits (determinism), up to
// 2^26 + 7 elements (4097 blocks of 2^14) and lists of more buffers than one launch takes (48).

function sumTol(x, squares) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += squares ? x[i] * x[i] : Math.abs(x[i]);
  return (i, w) => 2 ** -22 * Math.abs(w) + 2 ** -40 * s + 1e-30;
}

for (const n of [0, 1, 3, 17, 129, 16383, 16384, 16385, 65537, (1 << 22) + 5, (1 << 26) + 7]) {
  check(`reduce_sum and sum of squares, f32 and bf16, n=${n}: CPU value, deterministic`, () => {
    const x = randomF32(n, n + 99, -3, 5);
    let worst = 0;
    for (const dtype of ['f32', 'bf16']) {
      const xs = dtype === 'f32' ? x : toBf16(x);
      const xv = widen(xs);
      const [cx, gx] = both(dtype, [n], xs);
      for (const squares of [false, true]) {
        const op = squares ? sumOfSquares : reduceSum;
        const [co, go] = bothPoisoned('f32', [1]);
        const [, go2] = bothPoisoned('f32', [1]);
        op(cpu, cx, co);
        op(gpu, gx, go);
        op(gpu, gx, go2);
        const want = co.download(), got = go.download();
        worst = Math.max(worst, assertClose(want, got, sumTol(xv, squares), `${dtype} squares=${squares}`));
        assertBitwise(got, go2.download(), `${dtype} squares=${squares}: two GPU runs`);
      }
    }
    return `worst |d|/tol ${worst.toExponential(2)}`;
  });
}

check('global_norm of mixed buffers (empty, odd, > one launch of 48 buffers): CPU value, deterministic', () => {
  const r = rng(4242);
  const sizeLists = [
    [],
    [0],
    [1],
    [0, 1, 3, 17, 16385, 129, 70001, 0, 5],
    Array.from({ length: 130 }, () => Math.floor(r() * 40000)),
    [(1 << 24) + 1, 3, (1 << 20) - 1],
  ];
  let worst = 0;
  for (const sizes of sizeLists) {
    const cts = [], gts = [];
    sizes.forEach((n, k) => {
      const dtype = k % 3 === 1 ? 'bf16' : 'f32';
      const x = randomF32(n, n * 7 + k, -2, 2);
      const xs = dtype === 'f32' ? x : toBf16(x);
      const [c, g] = both(dtype, [n], xs);
      cts.push(c);
      gts.push(g);
    });
    const [co, go] = bothPoisoned('f32', [1]);
    const [, go2] = bothPoisoned('f32', [1]);
    globalNorm(cpu, cts, co);
    globalNorm(gpu, gts, go);
    globalNorm(gpu, gts, go2);
    const want = co.download(), got = go.download();
    // The norm's relative error is half the sum of squares'.
    worst = Math.max(worst, assertClose(want, got, (i, w) => 2 ** -22 * Math.abs(w) + 1e-30, `${sizes.length} buffers`));
    assertBitwise(got, go2.download(), `${sizes.length} buffers: two GPU runs`);
    if (sizes.length === 0) assert(got[0] === 0, `empty list gave ${got[0]}`);
    for (const t of [...cts, ...gts, co, go, go2]) t.dispose();
    live = live.filter((t) => !t.disposed);
  }
  return `${sizeLists.length} lists; worst |d|/tol ${worst.toExponential(2)}`;
});

// ---- assert_finite ----

// The GPU's typed error (ERR_NON_FINITE, the first bad element's message) and a 5e6-element scan;
// the table (assert_finite.ts) has the silent cases only.

check('assert_finite: silent on finite values, the CPU\'s ERR_NON_FINITE (first bad element) otherwise', () => {
  const cases = [];
  for (const n of [0, 1, 5, 100003]) cases.push({ n, bad: [] });
  for (const v of [Number.NaN, Infinity, -Infinity]) {
    cases.push({ n: 1, bad: [[0, v]] });
    cases.push({ n: 4, bad: [[2, v]] });
  }
  cases.push({ n: 100003, bad: [[99999, Infinity], [70001, Number.NaN], [70002, -Infinity]] });
  cases.push({ n: 5000000, bad: [[4999999, -Infinity]] });
  for (const { n, bad } of cases) {
    const x = randomF32(n, n + 5, -3.4e38, 3.4e38);
    for (const [i, v] of bad) x[i] = v;
    const [cx, gx] = both('f32', [n], x);
    const ce = errorOf(() => assertFinite(cpu, cx, 'gradNorm'));
    const ge = errorOf(() => assertFinite(gpu, gx, 'gradNorm'));
    const what = `n=${n} bad=${JSON.stringify(bad.map(([i, v]) => [i, String(v)]))}`;
    if (bad.length === 0) {
      assert(ce === undefined && ge === undefined, `${what}: threw ${ge?.code ?? ce?.code} ${ge?.message ?? ce?.message}`);
      continue;
    }
    assert(ce && ce.code === 'ERR_NON_FINITE', `${what}: the CPU gave ${ce?.code}`);
    assert(ge, `${what}: the GPU did not throw`);
    assert(ge.code === ce.code && ge.message === ce.message && ge.expected === ce.expected && ge.received === ce.received,
      `${what}: gpu ${ge.code} '${ge.message}' (${ge.expected} / ${ge.received}), cpu ${ce.code} '${ce.message}'`);
  }
  // The device is still usable after the error, and a later check sees fresh data.
  const ok = mk(gpu, 'f32', [3], new Float32Array([1, 2, 3]));
  assertFinite(gpu, ok, 'loss');
  return `${cases.length} cases; messages equal the CPU's`;
});

// ---- mean_pool ----

// Bitwise: the CUDA kernels add in the CPU's order (native/cuda/mean_pool.cu), a promise the table
// does not hold them to (mean_pool.ts and mean_pool_bwd.ts compare within their float64 tolerance).

const POOL_SHAPES = [[1, 1, 1], [3, 17, 5], [2, 129, 33], [4, 197, 768], [2, 3, 4099], [1, 1027, 3], [300, 2, 1]];

for (const [b, t, d] of POOL_SHAPES) {
  check(`mean_pool fwd and bwd, f32 and bf16, [${b}, ${t}, ${d}]: bitwise the CPU's`, () => {
    for (const dtype of ['f32', 'bf16']) {
      const x = randomF32(b * t * d, b * 1000 + t * 10 + d, -3, 3);
      const xs = dtype === 'f32' ? x : toBf16(x);
      const [cx, gx] = both(dtype, [b, t, d], xs);
      const [cy, gy] = bothPoisoned(dtype, [b, d]);
      meanPool(cpu, cx, cy);
      meanPool(gpu, gx, gy);
      assertBitwise(cy.download(), gy.download(), `${dtype} forward`);
      const dy = randomF32(b * d, b + d, -3, 3);
      const dys = dtype === 'f32' ? dy : toBf16(dy);
      const [cdy, gdy] = both(dtype, [b, d], dys);
      const [cdx, gdx] = bothPoisoned(dtype, [b, t, d]);
      meanPoolBackward(cpu, cdy, cdx);
      meanPoolBackward(gpu, gdy, gdx);
      assertBitwise(cdx.download(), gdx.download(), `${dtype} backward`);
    }
    return 'bitwise equal';
  });
}

// ---- philox, random_init ----

// The streams, counter carries and sizes up to 16407 blocks are the table's (philox.ts, bitwise);
// 2^22 + 1 blocks are one block past what 16384 blocks of 256 threads cover: the grid-stride loop.
check('philox past the grid (2^22 + 1 blocks, grid-stride loop) is bitwise the CPU\'s', () => {
  const [key, counter, blocks] = [[3, 4], [0, 1, 0, 0], (1 << 22) + 1];
  const [c, g] = bothPoisoned('i32', [4 * blocks]);
  philox(cpu, c, key, counter);
  philox(gpu, g, key, counter);
  assertBitwise(c.download(), g.download(), `key ${key} counter ${counter} blocks ${blocks}`);
  return 'bitwise equal';
});

// Every distribution and stream up to 32773 elements is the table's (random_init.ts, bitwise);
// 2^24 + 3 elements run the grid-stride loop.
check('random_init of 2^24 + 3 normal values (grid-stride loop): bitwise the CPU\'s', () => {
  const n = (1 << 24) + 3;
  const [c, g] = bothPoisoned('f32', [n]);
  const init = { dist: 'truncated_normal', std: 0.02 };
  const stream = { seed: 7, offset: 3, start: 5 };
  randomInit(cpu, c, init, stream);
  randomInit(gpu, g, init, stream);
  assertBitwise(c.download(), g.download(), 'f32');
  return 'bitwise equal';
});

cpu.dispose();
gpu.dispose();
finish();
