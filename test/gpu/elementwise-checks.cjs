#!/usr/bin/env node
// GPU checks of the elementwise / reduction / data-movement / random kernels (native/cuda: cast,
// gelu (also strided rows and a bias), strided_copy, reduce_sum, global_norm, assert_finite, mean_pool, patchify, pos_embed,
// philox, random_init): each kernel runs on the `cuda` device and on the `cpu` device (the
// reference, proven by test/kernels) on the same seeded random inputs, outputs poisoned beforehand
// (f32 NaN, bf16 0xffff, i32 0xdeadbeef) so an element the GPU forgets to write shows up.
// Plain JavaScript over dist/ (`npm run build:ts` first); run with
//   node test/gpu/elementwise-checks.cjs
// Prints one JSON object { checks: [{ name, ok, detail }] }; exits 1 on any failure (also, with one
// failed check saying why, where CUDA is unavailable).
//
// Tolerances (what the CUDA code promises, see the headers of native/cuda/<op>.cu):
//   bitwise equal: cast, strided_copy, patchify/unpatchify, mean_pool (fwd and bwd), pos_embed (add
//     and bwd, also with dxRowStride), philox, random_init (all distributions), and the GELU tanh form in f32 against the
//     CPU's baseline build (an AVX-512 CPU build may contract into FMAs: we then allow 4 f32 ulp);
//   GELU erf form: CUDA's erfcf/expf are not glibc's: |d| <= 2^-19 |cpu| (+ scale terms below);
//   bf16 GELU: one bf16 rounding apart (2^-7 relative) when the f32 values differ;
//   reduce_sum / global_norm: both sum in double and round once; the orders differ, so
//     |d| <= 2^-22 |cpu| + 2^-40 sum|x|; and two GPU runs are bitwise equal (determinism).
'use strict';
const harness = require('./check-harness.cjs');
const { rng, assert, finish, loadVit, requireCuda, openDevices } = harness;

const vit = loadVit();
const {
  toBf16, cast, gelu, geluBackward, stridedCopy, reduceSum, sumOfSquares, globalNorm,
  assertFinite, meanPool, meanPoolBackward, patchify, unpatchify, addPositionEmbedding,
  positionEmbeddingBackward, philox, randomInit,
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

const SIZES = [1, 3, 17, 129, 4099, 65537];

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

for (const n of [...SIZES, (1 << 24) + 3]) {
  check(`cast f32<->bf16 and copies are bitwise the CPU's, n=${n}`, () => {
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

const GELU_SHAPES = [[1, 1], [3, 17], [129, 129], [7, 4099], [1000, 300], [1, 200003]];

function geluInputs(n, seed) {
  const x = randomF32(n, seed, -10, 10);
  const extra = [0, -0, 1e-30, -1e-30, 5, -5, 9.5, -9.5, 13, -13, 40, -40, 100, -100, 1e30, -1e30];
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

for (const [rows, cols] of GELU_SHAPES) {
  const ranges = [[0, cols], [0, 0], [Math.min(1, cols), Math.max(Math.min(1, cols), cols - 2)], [cols - 1, cols]];
  check(`gelu fwd and bwd, tanh and erf, f32 and bf16, whole and column ranges, [${rows}, ${cols}]`, () => {
    const n = rows * cols;
    const x = geluInputs(n, rows * 31 + cols);
    const dy = randomF32(n, rows + cols * 7, -2, 2);
    let worst = 0;
    const details = [];
    for (const dtype of ['f32', 'bf16']) {
      const xs = dtype === 'f32' ? x : toBf16(x);
      const dys = dtype === 'f32' ? dy : toBf16(dy);
      const xv = widen(xs), dyv = widen(dys);
      for (const form of ['tanh', 'erf']) {
        for (const columns of ranges) {
          const opts = { form, columns };
          const what = `${dtype} ${form} columns [${columns}]`;
          const [cx, gx] = both(dtype, [rows, cols], xs);
          const [cy, gy] = bothPoisoned(dtype, [rows, cols]);
          gelu(cpu, cx, cy, opts);
          gelu(gpu, gx, gy, opts);
          const wantY = cy.download(), gotY = gy.download();
          const exactTanh = form === 'tanh' && dtype === 'f32';
          let bitwise = true;
          try {
            assertBitwise(wantY, gotY, `fwd ${what}`);
          } catch (e) {
            bitwise = false;
            if (exactTanh) details.push(`fwd ${what} not bitwise (${e.message.split(';')[0]})`);
          }
          if (!bitwise) worst = Math.max(worst, assertClose(wantY, gotY, geluTol(form, dtype, (i) => Math.abs(xv[i])), `fwd ${what}`));
          // Outside the range the output is the input, bit for bit.
          const yb = bitsOf(gotY), xb = bitsOf(xs);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              if (c >= columns[0] && c < columns[1]) continue;
              const i = r * cols + c;
              if (yb[i] !== xb[i]) throw new Error(`fwd ${what}: outside the range, element ${i} is not a copy of x`);
            }
          }
          const [cdy, gdy] = both(dtype, [rows, cols], dys);
          const [cdx, gdx] = bothPoisoned(dtype, [rows, cols]);
          geluBackward(cpu, cx, cdy, cdx, opts);
          geluBackward(gpu, gx, gdy, gdx, opts);
          worst = Math.max(worst, assertClose(cdx.download(), gdx.download(), geluTol(form, dtype, (i) => Math.abs(dyv[i]) * (1 + Math.abs(xv[i]))), `bwd ${what}`));
          // In place (y = x, dx = dy) gives the same values as out of place.
          gelu(gpu, gx, gx, opts);
          assertBitwise(gotY, gx.download(), `fwd in place ${what}`);
          geluBackward(gpu, gy /* any x */, gdy, gdy, opts);
          const [, gdx2] = bothPoisoned(dtype, [rows, cols]);
          const [, gdyFresh] = both(dtype, [rows, cols], dys);
          geluBackward(gpu, gy, gdyFresh, gdx2, opts);
          assertBitwise(gdx2.download(), gdy.download(), `bwd in place ${what}`);
          for (const t of [cx, gx, cy, gy, cdy, gdy, cdx, gdx, gdx2, gdyFresh]) t.dispose();
          live = live.filter((t) => !t.disposed);
        }
      }
    }
    if (details.length > 0) details.unshift('NOTE: f32 tanh differs from this CPU build (AVX-512 FMA contraction?)');
    return `worst |d|/tol ${worst.toExponential(2)}${details.length ? '; ' + details.slice(0, 3).join('; ') : ''}`;
  });
}

// Strided rows and a bias (raw launch specs: GeluFwdArgs / GeluBwdArgs xStride, yStride,
// dyStride, dxStride, bias, biasType): operands inside bigger buffers, outputs poisoned; elements
// outside the rows must stay poison (bitwise), elements inside meet the tolerances above with
// scale |x| + |bias| (fwd) or |dy| (1 + |x| + |bias|) (bwd).
// [rows, cols, colBegin, colEnd, xStride, yStride, dyStride, dxStride]
const GELU_STRIDED = [
  [1, 1, 0, 1, 1, 3, 0, 2],
  [17, 38, 15, 38, 41, 38, 40, 39],
  [129, 129, 3, 100, 300, 131, 129, 130],
  [1000, 300, 0, 300, 1024, 0, 301, 333],
  [3, 70001, 1, 70000, 70003, 70001, 70010, 70002],
];

function geluStridedSpan(rows, stride, cols) {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * (stride === 0 ? cols : stride) + cols;
}

for (const [rows, cols, c0, c1, xs, ys, dys, dxs] of GELU_STRIDED) {
  check(`gelu fwd and bwd with row strides and a bias (none, f32, bf16), tanh and erf, f32 and bf16, [${rows}, ${cols}] columns [${c0}, ${c1})`, () => {
    const pad = 3;
    const spanX = geluStridedSpan(rows, xs, cols) + pad, spanY = geluStridedSpan(rows, ys, cols) + pad;
    const spanDy = geluStridedSpan(rows, dys, cols) + pad, spanDx = geluStridedSpan(rows, dxs, cols) + pad;
    const x = geluInputs(spanX, rows * 17 + cols);
    const dy = randomF32(spanDy, rows + cols * 3, -2, 2);
    const bias = randomF32(Math.max(1, c1 - c0), cols + 5, -2, 2);
    const inRows = (i, stride) => {
      const s = stride === 0 ? cols : stride;
      const r = Math.floor(i / s);
      return r < rows && i - r * s < cols;
    };
    let worst = 0;
    for (const dtype of ['f32', 'bf16']) {
      const xs_ = dtype === 'f32' ? x : toBf16(x);
      const dys_ = dtype === 'f32' ? dy : toBf16(dy);
      const xv = widen(xs_), dyv = widen(dys_);
      for (const biasType of [undefined, 'f32', 'bf16']) {
        const bs = biasType === 'bf16' ? toBf16(bias) : bias;
        const bv = widen(bs);
        for (const form of ['tanh', 'erf']) {
          const what = `${dtype} ${form} bias ${biasType ?? 'none'}`;
          const [cx, gx] = both(dtype, [spanX], xs_);
          const [cdy, gdy] = both(dtype, [spanDy], dys_);
          const [cy, gy] = bothPoisoned(dtype, [spanY]);
          const [cdx, gdx] = bothPoisoned(dtype, [spanDx]);
          const [cb, gb] = biasType ? both(biasType, [bs.length], bs) : [undefined, undefined];
          const spec = (b) => ({ dtype, form, rows, cols, colBegin: c0, colEnd: c1, ...(b ? { bias: b.buffer, biasType } : {}) });
          cpu.native.launch('gelu_fwd', { ...spec(cb), x: cx.buffer, xStride: xs, y: cy.buffer, yStride: ys });
          gpu.native.launch('gelu_fwd', { ...spec(gb), x: gx.buffer, xStride: xs, y: gy.buffer, yStride: ys });
          cpu.native.launch('gelu_bwd', { ...spec(cb), x: cx.buffer, xStride: xs, dy: cdy.buffer, dyStride: dys, dx: cdx.buffer, dxStride: dxs });
          gpu.native.launch('gelu_bwd', { ...spec(gb), x: gx.buffer, xStride: xs, dy: gdy.buffer, dyStride: dys, dx: gdx.buffer, dxStride: dxs });
          // |x + bias| of the element at buffer index i of an operand with row stride `stride`.
          const argScale = (i, stride) => {
            const s = stride === 0 ? cols : stride;
            const r = Math.floor(i / s), c = i - r * s;
            if (!inRows(i, stride)) return 0;
            const xi = r * (xs === 0 ? cols : xs) + c;
            return Math.abs(xv[xi]) + (biasType && c >= c0 && c < c1 ? Math.abs(bv[c - c0]) : 0);
          };
          const dyAt = (i) => {
            const s = dxs === 0 ? cols : dxs;
            const r = Math.floor(i / s), c = i - r * s;
            return inRows(i, dxs) ? Math.abs(dyv[r * (dys === 0 ? cols : dys) + c]) : 0;
          };
          for (const [name, cT, gT, stride, scale] of [
            ['y', cy, gy, ys, (i) => argScale(i, ys)],
            ['dx', cdx, gdx, dxs, (i) => dyAt(i) * (1 + argScale(i, dxs))],
          ]) {
            const want = cT.download(), got = gT.download();
            const wb = bitsOf(want), gbits = bitsOf(got);
            for (let i = 0; i < wb.length; i++) {
              if (!inRows(i, stride) && gbits[i] !== wb[i]) throw new Error(`${name} ${what}: element ${i} outside the rows was written`);
            }
            worst = Math.max(worst, assertClose(want, got, geluTol(form, dtype, scale), `${name} ${what}`));
          }
          // In place on the GPU (y = x at the same start and stride) gives the out-of-place bits.
          gpu.native.launch('gelu_fwd', { ...spec(gb), x: gx.buffer, xStride: xs, y: gx.buffer, yStride: xs });
          const [, gy2] = bothPoisoned(dtype, [spanX]);
          const [, gxFresh] = both(dtype, [spanX], xs_);
          gpu.native.launch('gelu_fwd', { ...spec(gb), x: gxFresh.buffer, xStride: xs, y: gy2.buffer, yStride: xs });
          const inPlace = bitsOf(gx.download()), outOfPlace = bitsOf(gy2.download()), xBits = bitsOf(xs_);
          for (let i = 0; i < inPlace.length; i++) {
            const want = inRows(i, xs) ? outOfPlace[i] : xBits[i];
            if (inPlace[i] !== want) throw new Error(`fwd in place ${what}: element ${i} differs`);
          }
          for (const t of live) t.dispose();
          live = [];
        }
      }
    }
    return `worst |d|/tol ${worst.toExponential(2)}`;
  });
}

// ---- strided_copy ----

// [batch, cols, xStride, yStride] (elements); x and y sized to hold every run.
const COPY_CASES = [
  [1, 1, 0, 0], [3, 1, 1, 1], [17, 3, 7, 3], [129, 5, 5, 12], [33, 17, 0, 17], [5, 4099, 4100, 4099],
  [64, 1024, 2048, 1024], [64, 1024, 1024, 3072], [1000, 2, 2, 6], [7, 8, 8, 16], [3, 300007, 300007, 300011],
  [2049, 33, 40, 33], [70000, 1, 3, 1],
];

for (const dtype of ['f32', 'bf16', 'i32']) {
  check(`strided_copy ${dtype}: slices, concatenations, broadcasts, long and short runs are bitwise the CPU's`, () => {
    for (const [batch, cols, xStride, yStride] of COPY_CASES) {
      const xn = (batch - 1) * xStride + cols, yn = (batch - 1) * yStride + cols;
      const xf = randomF32(xn, xn + batch, -100, 100);
      const xs = dtype === 'i32' ? new Int32Array(xf.buffer) : dtype === 'bf16' ? toBf16(xf) : xf;
      const [cx, gx] = both(dtype, [xn], xs);
      const [cy, gy] = bothPoisoned(dtype, [yn]);
      const o = { batch, cols, xStride, yStride };
      stridedCopy(cpu, cx, cy, o);
      stridedCopy(gpu, gx, gy, o);
      assertBitwise(cy.download(), gy.download(), `${JSON.stringify(o)}`);
    }
    return `${COPY_CASES.length} layouts bitwise equal (gaps between runs keep their poison on both)`;
  });
}

// ---- reduce_sum, global_norm ----

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

// ---- patchify / unpatchify ----

const PATCH_SHAPES = [[1, 1, 1, 1, 1], [2, 6, 9, 3, 3], [3, 32, 32, 3, 16], [2, 28, 14, 5, 14], [2, 224, 224, 3, 16], [1, 8, 8, 1, 8]];

for (const [b, h, w, c, p] of PATCH_SHAPES) {
  check(`patchify and unpatchify, f32 and bf16, images [${b}, ${h}, ${w}, ${c}], p=${p}: bitwise the CPU's`, () => {
    const pshape = [b, (h / p) * (w / p), p * p * c];
    for (const dtype of ['f32', 'bf16']) {
      const x = randomF32(b * h * w * c, b + h + w + c + p, -1, 1);
      const xs = dtype === 'f32' ? x : toBf16(x);
      const [ci, gi] = both(dtype, [b, h, w, c], xs);
      const [cp, gp] = bothPoisoned(dtype, pshape);
      patchify(cpu, ci, cp, { patch: p });
      patchify(gpu, gi, gp, { patch: p });
      const patches = cp.download();
      assertBitwise(patches, gp.download(), `${dtype} patchify`);
      const [cback, gback] = bothPoisoned(dtype, [b, h, w, c]);
      unpatchify(cpu, cp, cback, { patch: p });
      unpatchify(gpu, gp, gback, { patch: p });
      const back = gback.download();
      assertBitwise(cback.download(), back, `${dtype} unpatchify`);
      assertBitwise(xs, back, `${dtype} round trip`);
    }
    return 'bitwise equal; the round trip restores the images';
  });
}

// ---- pos_embed ----

const POS_SHAPES = [[1, 1, 1], [3, 17, 5], [5, 197, 129], [2, 3, 4099], [9, 2, 3], [0, 3, 5], [1030, 1, 7]];

for (const [b, t, d] of POS_SHAPES) {
  check(`pos_embed add and bwd, x and pos f32/bf16, [${b}, ${t}, ${d}]: bitwise the CPU's`, () => {
    for (const dtype of ['f32', 'bf16']) {
      for (const posDtype of ['f32', 'bf16']) {
        const x = randomF32(b * t * d, b * 100 + t * 10 + d, -2, 2);
        const pos = randomF32(t * d, t + d, -1, 1);
        const xs = dtype === 'f32' ? x : toBf16(x);
        const ps = posDtype === 'f32' ? pos : toBf16(pos);
        const [cx, gx] = both(dtype, [b, t, d], xs);
        const [cp, gp] = both(posDtype, [t, d], ps);
        addPositionEmbedding(cpu, cx, cp);
        addPositionEmbedding(gpu, gx, gp);
        assertBitwise(cx.download(), gx.download(), `add x ${dtype} pos ${posDtype}`);
        const [cd, gd] = bothPoisoned(posDtype, [t, d]);
        positionEmbeddingBackward(cpu, cx, cd);
        positionEmbeddingBackward(gpu, gx, gd);
        assertBitwise(cd.download(), gd.download(), `bwd dx ${dtype} dpos ${posDtype}`);
      }
    }
    return 'bitwise equal';
  });
}

// dxRowStride: rows (b, t) of dx a column window of a wider buffer (sum_to's bias gradient, t = 1).
// [b, t, d, dxRowStride]. b > 256 spans several row blocks (kernels.h: the GPU sums blocks in
// parallel and adds them in order); 8195 x 1031 is a bias gradient's shape in small.
const POS_STRIDED = [[1, 1, 1, 3], [3, 17, 5, 8], [5, 197, 129, 200], [2049, 1, 33, 100], [4, 2, 4099, 5000], [0, 3, 5, 7], [8195, 1, 1031, 1100]];

for (const [b, t, d, stride] of POS_STRIDED) {
  check(`pos_embed bwd with dxRowStride ${stride}, dx and dpos f32/bf16, [${b}, ${t}, ${d}]: bitwise the CPU's`, () => {
    const n = b * t === 0 ? 4 : (b * t - 1) * stride + d + 4;
    for (const dtype of ['f32', 'bf16']) {
      for (const posDtype of ['f32', 'bf16']) {
        const x = randomF32(n, b * 100 + t * 10 + d + stride, -2, 2);
        const xs = dtype === 'f32' ? x : toBf16(x);
        const [cx, gx] = both(dtype, [n], xs);
        const [cd, gd] = bothPoisoned(posDtype, [t, d]);
        const spec = { dtype, posDtype, b, t, d, dxRowStride: stride };
        cpu.native.launch('pos_embed_bwd', { ...spec, dx: cx.buffer, dpos: cd.buffer });
        gpu.native.launch('pos_embed_bwd', { ...spec, dx: gx.buffer, dpos: gd.buffer });
        assertBitwise(cd.download(), gd.download(), `bwd dx ${dtype} dpos ${posDtype}`);
      }
    }
    return 'bitwise equal';
  });
}

// ---- philox, random_init ----

check('philox blocks are bitwise the CPU\'s (counter carries included)', () => {
  const cases = [
    [[0, 0], [0, 0, 0, 0], 1],
    [[0xa4093822, 0x299f31d0], [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 3],
    [[1, 2], [0xfffffffe, 0xffffffff, 0xffffffff, 0], 17],
    [[0xffffffff, 0xffffffff], [0xffffff00, 0xffffffff, 0xffffffff, 0xffffffff], 1000],
    [[12345, 678], [7, 0, 9, 0], 65537],
    [[3, 4], [0, 1, 0, 0], (1 << 22) + 1],
  ];
  for (const [key, counter, blocks] of cases) {
    const [c, g] = bothPoisoned('i32', [4 * blocks]);
    philox(cpu, c, key, counter);
    philox(gpu, g, key, counter);
    assertBitwise(c.download(), g.download(), `key ${key} counter ${counter} blocks ${blocks}`);
  }
  return `${cases.length} streams bitwise equal`;
});

const INITS = [
  { dist: 'constant', value: 0.3 },
  { dist: 'constant', value: -0 },
  { dist: 'uniform', lo: 0, hi: 1 },
  { dist: 'uniform', lo: -0.1, hi: 0.3 },
  { dist: 'uniform', lo: -1, hi: 0 },
  { dist: 'uniform', lo: 1, hi: 1.0000001 },
  { dist: 'normal', std: 1 },
  { dist: 'normal', mean: 0.5, std: 2 },
  { dist: 'truncated_normal', std: 0.02 },
  { dist: 'truncated_normal', mean: -1, std: 3 },
];
const STREAMS = [
  { seed: 0 },
  { seed: 42, offset: 7, start: 3 },
  { seed: 2n ** 63n + 5n, offset: 2n ** 40n + 1n, start: 2 ** 33 + 1 },
  { seed: 0xffffffff, offset: 0, start: 4 * 0xffffffff - 2 },
];

for (const n of [1, 3, 17, 129, 100003]) {
  check(`random_init f32 and bf16, every distribution and stream, n=${n}: bitwise the CPU's`, () => {
    let count = 0;
    for (const dtype of ['f32', 'bf16']) {
      for (const init of INITS) {
        for (const stream of STREAMS) {
          const [c, g] = bothPoisoned(dtype, [n]);
          randomInit(cpu, c, init, stream);
          randomInit(gpu, g, init, stream);
          assertBitwise(c.download(), g.download(), `${dtype} ${JSON.stringify(init)} ${JSON.stringify(stream, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
          c.dispose();
          g.dispose();
          live = live.filter((t) => !t.disposed);
          count++;
        }
      }
    }
    return `${count} fills bitwise equal`;
  });
}

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
