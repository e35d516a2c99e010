// gelu_fwd (lib/kernels/gelu_fwd.ts GeluFwdArgs): y = gelu(x [+ bias]) on the columns [colBegin, colEnd)
// of a [rows, cols] matrix, y = x elsewhere; tanh and erf forms; f32 or bf16 storage (math in f32,
// y rounded once); rows strided (xStride / yStride, 0 = dense); an optional f32 or bf16 bias over
// the range; in place (y is x). Ported from test/kernels/gelu.test.ts (and the shapes of
// test/gpu/elementwise-checks.cjs), which this table replaces for the float64 comparison.
//
// CPU tolerance, per element inside the range (the bound gelu.test.ts proves, kept as it is):
//   tanh: 2^-20 (1 + |z|) |ref|, z = 2 sqrt(2/pi) (v + 0.044715 v^3): z is computed in f32 and the
//         logistic function's relative sensitivity to it is |z| at most;
//   erf:  2^-20 (1 + v^2) |ref|: erfc(y)'s relative sensitivity to its argument grows like 2y^2;
//   plus 2^-126 (results below the normal range flush to zero), plus 2^-8 |ref| for bf16 (one
//   rounding of y); outside the range y is x, copied (bound 0 there).
// v = x + bias is taken exactly here; the kernel adds in f32, one more 2^-24 relative rounding of
// the argument, well inside the 2^-20 factors. The contract has one { abs, rel } per output, so
// fitTolerance turns the per-element bounds into the tightest abs for a chosen rel: every element
// still gets at least its own bound (abs + rel |ref| >= bound), and an element far from the case's
// worst gets more slack than gelu.test.ts gave it. That is why the inputs of most cases stay in the
// bend (|x| < 4) and the tails (|x| up to 16, where the bound is large) have cases of their own.
//
// GPU tolerance (CUDA against the CPU), from elementwise-checks.cjs geluTol: CUDA's expf / erfcf
// are not glibc's, |d| <= r (|cpu| + scale) + 1e-37 with r = 2^-21 (tanh) or 2^-19 (erf) and
// scale = |x| + |bias|; bf16 adds one rounding apart, 2^-7 |cpu|.
import { copyOf, rng, roundTo } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';

type Storage = 'f32' | 'bf16';
type Form = 'tanh' | 'erf';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;
const floor = Math.floor;
const exp = Math.exp;
const SQRT2 = Math.SQRT2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;
const TINY = 2 ** -126;

// ---- GELU in float64, from the definitions (A&S 7.1.6 and 7.1.14; the same closed forms as
// test/helpers/norm-reference.ts, written here with local bindings so the reference stays fast) ----

/** erf(y) = 2/sqrt(pi) e^{-y^2} sum_n 2^n y^{2n+1} / (1 * 3 * ... * (2n+1)): positive terms, |y| < 3. */
function erfSeries(y: number): number {
  let term = y;
  let sum = y;
  for (let n = 1; n < 200 && abs(term) > 1e-18 * abs(sum); n++) {
    term *= (2 * y * y) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * exp(-y * y) * sum;
}

/** erfc(y), y >= 3: e^{-y^2}/sqrt(pi) / (y + (1/2)/(y + 1/(y + (3/2)/(y + ...)))), from the back. */
function erfcFraction(y: number): number {
  let f = y;
  for (let k = 60; k >= 1; k--) f = y + k / 2 / f;
  return (exp(-y * y) * INV_SQRT_PI) / f;
}

function erfc(y: number): number {
  if (y >= 3) return erfcFraction(y);
  if (y <= -3) return 2 - erfcFraction(-y);
  return 1 - erfSeries(y);
}

/** z of the tanh form: 0.5 (1 + tanh(z / 2)) = 1 / (1 + e^{-z}). */
function geluZ(x: number): number {
  return 2 * K * (x + C * x * x * x);
}

/** tanh form x / (1 + e^{-z}); erf form x Phi(x) = 0.5 x erfc(-x / sqrt 2). */
function geluRef(x: number, form: Form): number {
  if (form === 'tanh') return x / (1 + exp(-geluZ(x)));
  return 0.5 * x * erfc(-x / SQRT2);
}
/** Elements past the last row of every strided buffer: they must come back untouched. */
const PAD = 5;

/** 2^-20 (1 + |z|) (tanh) or 2^-20 (1 + v^2) (erf): the relative conditioning of gelu at v. */
function conditioning(v: number, form: Form): number {
  return 2 ** -20 * (form === 'tanh' ? 1 + abs(geluZ(v)) : 1 + v * v);
}

/**
 * { abs, rel } with abs + rel |ref_i| >= bound_i for every i: for each candidate rel the least
 * such abs, and of those the pair that allows the least in total (the rel that fits the bulk of
 * the elements, the abs that covers the rest).
 */
function fitTolerance(bound: ArrayLike<number>, ref: ArrayLike<number>, rels: number[]): Tolerance {
  let best: Tolerance | undefined;
  let bestTotal = Infinity;
  for (const rel of rels) {
    let a = 0;
    let total = 0;
    for (let i = 0; i < bound.length; i++) {
      if (Number.isNaN(ref[i]!)) continue; // poison kept in a gap: compared NaN to NaN
      a = max(a, bound[i]! - rel * abs(ref[i]!));
      total += rel * abs(ref[i]!);
    }
    total += a * bound.length;
    if (total < bestTotal) {
      bestTotal = total;
      best = { abs: a, rel };
    }
  }
  return best!;
}

/** Element i of a row-major buffer with this row stride lies inside a row's [0, cols). */
function inRows(i: number, rows: number, stride: number, cols: number): boolean {
  const s = stride === 0 ? cols : stride;
  const r = floor(i / s);
  return r < rows && i - r * s < cols;
}

const spanOf = (rows: number, stride: number, cols: number): number =>
  rows === 0 || cols === 0 ? 0 : (rows - 1) * (stride === 0 ? cols : stride) + cols;

/**
 * Inputs: 'bend' uniform in (-4, 4), where GELU bends and the bound is tight; 'tails' random
 * sign, magnitude log-uniform in [2^-10, 16) (gelu.test.ts's range: the linear region, the bend,
 * and both tails, gelu(-16) underflowing f32).
 */
type Range = 'bend' | 'tails';
function values(n: number, seed: number, range: Range): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (range === 'bend') out[i] = 8 * r() - 4 || 0.5;
    else out[i] = (r() < 0.5 ? -1 : 1) * 2 ** (-10 + 14 * r());
  }
  return out;
}

interface GeluShape {
  rows: number;
  cols: number;
  columns: [number, number];
  /** Row strides in elements (0 = dense); a strided buffer gets PAD spare elements at its end. */
  xStride: number;
  yStride: number;
  bias?: Storage;
  /** y is x: one 'inout' buffer at x's stride. */
  inPlace?: boolean;
  range: Range;
}

function layoutName(s: GeluShape, form: Form): string {
  const strided = s.xStride !== 0 || s.yStride !== 0 || s.rows === 0;
  const [c0, c1] = s.columns;
  const range = c0 === c1 ? 'empty range' : c0 === 0 && c1 === s.cols ? 'all columns' : 'column range';
  return [form, strided ? 'strided rows' : 'dense', range, s.bias ? 'bias' : '', s.inPlace ? 'in place' : ''].filter(Boolean).join(', ');
}

function geluCase(dtype: Storage, form: Form, s: GeluShape, seed: number): KernelCase {
  const { rows, cols } = s;
  const [c0, c1] = s.columns;
  const yStride = s.inPlace ? s.xStride : s.yStride;
  // Dense buffers hold exactly rows * cols (so a dense case has no gaps); strided ones a PAD more.
  const sizeOf = (stride: number): number => spanOf(rows, stride, cols) + (stride === 0 && rows > 0 ? 0 : PAD);
  const xSize = sizeOf(s.xStride);
  const ySize = sizeOf(yStride);
  // x outside the rows is NaN: an element read from a gap poisons the y it lands in.
  const xData = values(xSize, seed, s.range).map((v, i) => (inRows(i, rows, s.xStride, cols) ? v : Number.NaN));
  const width = c1 - c0;
  const biasData = s.bias ? values(Math.max(width, 1), seed + 1, 'bend').map((v) => v / 4) : undefined;

  const buffers: KernelCase['buffers'] = s.inPlace
    ? { x: { dtype, size: xSize, role: 'inout', data: xData } }
    : { x: { dtype, size: xSize, role: 'in', data: xData }, y: { dtype, size: ySize, role: 'out' } };
  if (s.bias) buffers.bias = { dtype: s.bias, size: biasData!.length, role: 'in', data: biasData! };
  const outName = s.inPlace ? 'x' : 'y';

  /** The reference y (whole buffer), and per element the CPU bound and the GPU scale |x| + |bias|. */
  const evaluate = (init: Record<string, Float64Array>) => {
    const x = init.x!;
    const bias = init.bias;
    const y = copyOf(init[outName]!);
    const bound = new Float64Array(y.length);
    const scale = new Float64Array(y.length);
    const xs = s.xStride === 0 ? cols : s.xStride;
    const ys = yStride === 0 ? cols : yStride;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const xv = x[r * xs + c]!;
        const yi = r * ys + c;
        if (c < c0 || c >= c1) {
          y[yi] = xv; // copied through, exactly
          scale[yi] = abs(xv);
          continue;
        }
        const b = bias ? bias[c - c0]! : 0;
        const v = xv + b;
        y[yi] = geluRef(v, form);
        bound[yi] = conditioning(v, form) * abs(y[yi]!) + TINY + (dtype === 'bf16' ? 2 ** -8 * abs(y[yi]!) : 0);
        scale[yi] = abs(xv) + abs(b);
      }
    }
    return { y, bound, scale };
  };

  // The tolerances come from the reference on this case's own inputs, rounded as uploaded.
  let tolerances: { cpu: Tolerance; gpu: Tolerance } | undefined;
  const tolerancesOf = () => {
    if (!tolerances) {
      const init: Record<string, Float64Array> = { x: roundTo(dtype, xData) };
      if (biasData) init.bias = roundTo(s.bias!, biasData);
      if (!s.inPlace) init.y = new Float64Array(ySize).fill(Number.NaN);
      const { y, bound, scale } = evaluate(init);
      const store = dtype === 'bf16' ? 2 ** -8 : 0;
      // rel candidates: the conditioning at |v| = 4 (the bend), and the worst of the case.
      let worst = 0;
      for (let i = 0; i < y.length; i++) if (bound[i]! > 0) worst = max(worst, (bound[i]! - TINY) / abs(y[i]!) || 0);
      const cpu = fitTolerance(bound, y, [conditioning(4, form) + store, worst]);
      const r = form === 'tanh' ? 2 ** -21 : 2 ** -19;
      let maxScale = 0;
      for (let i = 0; i < scale.length; i++) maxScale = max(maxScale, scale[i]!);
      const gpu = { abs: r * maxScale + 1e-37, rel: r + (dtype === 'bf16' ? 2 ** -7 : 0) };
      tolerances = { cpu, gpu };
    }
    return tolerances;
  };

  const strides = s.inPlace ? `stride ${s.xStride}` : `strides x ${s.xStride} y ${s.yStride}`;
  return {
    name: `${dtype} ${form} ${rows}x${cols} [${c0}, ${c1}) ${strides}${s.bias ? ` ${s.bias} bias` : ''}${s.inPlace ? ' in place' : ''} ${s.range}`,
    dtype: s.bias ? `${dtype}, ${s.bias} bias` : dtype,
    layout: layoutName(s, form),
    buffers,
    spec: (b) => ({
      dtype, form, rows, cols, colBegin: c0, colEnd: c1,
      x: b.x, xStride: s.xStride, y: b[outName], yStride,
      ...(s.bias ? { bias: b.bias, biasType: s.bias } : {}),
    }),
    reference: (init) => ({ [outName]: evaluate(init).y }),
    get tolerance() {
      return tolerancesOf().cpu;
    },
    get gpuTolerance() {
      return tolerancesOf().gpu;
    },
  };
}

const dense = (rows: number, cols: number, columns: [number, number], range: Range = 'bend', bias?: Storage): GeluShape =>
  ({ rows, cols, columns, xStride: 0, yStride: 0, range, ...(bias ? { bias } : {}) });

/**
 * The shapes of gelu.test.ts (gelu_bwd.ts has the same list): whole
 * matrices (one element to 17011, long enough for every thread), column ranges of the fused
 * [B*T, 3D + F] output (empty, full, one column at either end, a 1-column matrix), strided rows
 * with and without a bias, long rows (pieces of 8192 columns with the range boundaries inside),
 * rows = 0, and in place.
 */
const SHAPES: GeluShape[] = [
  dense(1, 1, [0, 1]),
  dense(1, 3, [0, 3]),
  dense(1, 17, [0, 17]),
  dense(1, 129, [0, 129], 'tails'),
  dense(1, 1031, [0, 1031], 'tails'),
  dense(51, 129, [0, 129]),
  dense(1, 17011, [0, 17011]), // one row cut in 8192-column pieces, on every thread
  dense(14, 38, [15, 38]),
  dense(17, 38, [0, 0]),
  dense(17, 38, [38, 38]),
  dense(3, 38, [0, 38]),
  dense(129, 17, [0, 1], 'tails'),
  dense(129, 17, [16, 17]),
  dense(33, 1, [0, 1]),
  dense(67, 257, [100, 229]), // 17219 elements: past the 2^14 of the multi-threaded path
  // a bias on a dense range and on every column (gelu.test.ts 'through the wrappers')
  dense(21, 38, [15, 38], 'bend', 'bf16'),
  dense(21, 38, [15, 38], 'bend', 'f32'),
  dense(1, 129, [0, 129], 'bend', 'f32'),
  dense(1, 129, [0, 129], 'bend', 'bf16'),
  // strided rows (xStride, yStride), with no bias, an f32 or a bf16 bias
  { rows: 1, cols: 1, columns: [0, 1], xStride: 1, yStride: 3, bias: 'f32', range: 'bend' },
  { rows: 3, cols: 17, columns: [0, 17], xStride: 20, yStride: 19, range: 'tails' },
  { rows: 17, cols: 38, columns: [15, 38], xStride: 41, yStride: 38, bias: 'bf16', range: 'bend' },
  { rows: 129, cols: 129, columns: [3, 100], xStride: 300, yStride: 131, bias: 'f32', range: 'bend' },
  { rows: 5, cols: 1031, columns: [0, 1031], xStride: 2000, yStride: 1031, bias: 'bf16', range: 'bend' },
  { rows: 67, cols: 257, columns: [100, 229], xStride: 400, yStride: 263, bias: 'f32', range: 'bend' },
  { rows: 67, cols: 257, columns: [0, 257], xStride: 400, yStride: 0, range: 'bend' },
  { rows: 2, cols: 16411, columns: [1, 16400], xStride: 16413, yStride: 16411, bias: 'bf16', range: 'bend' },
  { rows: 33, cols: 5, columns: [2, 2], xStride: 7, yStride: 6, bias: 'f32', range: 'bend' },
  { rows: 0, cols: 5, columns: [1, 4], xStride: 7, yStride: 6, bias: 'f32', range: 'bend' },
  // in place: dense, and strided with a bias
  { rows: 9, cols: 20, columns: [4, 13], xStride: 0, yStride: 0, inPlace: true, range: 'bend' },
  { rows: 9, cols: 20, columns: [4, 13], xStride: 27, yStride: 27, bias: 'f32', inPlace: true, range: 'bend' },
];

const cases: KernelCase[] = [];
SHAPES.forEach((s, i) => {
  for (const form of ['tanh', 'erf'] as Form[]) {
    for (const dtype of ['f32', 'bf16'] as Storage[]) {
      cases.push(geluCase(dtype, form, s, 1000 + 10 * i + (form === 'erf' ? 2 : 0) + (dtype === 'bf16' ? 1 : 0)));
    }
  }
});

const geluFwd: KernelCases = { kernel: 'gelu_fwd', cases };
export default geluFwd;
