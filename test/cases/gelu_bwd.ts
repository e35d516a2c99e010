// gelu_bwd (lib/kernels/gelu_bwd.ts GeluBwdArgs): dx = dy * gelu'(x [+ bias]) on the columns
// [colBegin, colEnd) of a [rows, cols] matrix, dx = dy elsewhere; tanh and erf forms; f32 or bf16
// storage (math in f32, dx rounded once); rows strided (xStride / dyStride / dxStride, 0 = dense);
// an optional f32 or bf16 bias over the range; in place (dx is dy). Ported from
// test/kernels/gelu.test.ts, whose shapes gelu_fwd.ts shares (the same list, by hand).
//
// CPU tolerance, per element inside the range (gelu.test.ts's bound, kept as it is): gelu' = a + b
// (two terms: a = sigmoid(z) or Phi(v), b = v sigmoid'(z) dz/dv or v phi(v)), and
//   |err| <= c(v) |dy| (|a| + |b|) + 2^-126 (+ 2^-8 |ref| for bf16: one rounding of dx)
// with c(v) = 2^-20 (1 + |z|) (tanh) or 2^-20 (1 + v^2) (erf), the conditioning of gelu_fwd.ts:
// the terms bound what f32 arithmetic loses, so the zero of gelu' near v = -0.75, where they
// cancel, is bounded fairly. Outside the range dx is dy, copied (bound 0). fitTolerance turns the
// per-element bounds into one { abs, rel } that still meets every element's bound (the case's
// worst elements set it, so most inputs stay in the bend, |x| < 4, as in gelu_fwd.ts).
//
// GPU tolerance (CUDA against the CPU), from elementwise-checks.cjs geluTol: r (|cpu| + scale) +
// 1e-37 with r = 2^-21 (tanh) or 2^-19 (erf) and scale = |dy| (1 + |x| + |bias|); bf16 adds one
// rounding apart, 2^-7 |cpu|.
//
// gradient: dense cases (x and dx in the same layout, no gaps) pair dx with the float64 forward
// y = gelu(x + bias) under the cotangent dy; the in-place and strided cases are the same reference
// code on other layouts.
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
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
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
  dyStride: number;
  dxStride: number;
  bias?: Storage;
  /** dx is dy: one 'inout' buffer at dy's stride. */
  inPlace?: boolean;
  range: Range;
}

/** gelu'(v) as its two terms [a, b] (see the header), in float64. */
function geluGradTerms(v: number, form: Form): [number, number] {
  if (form === 'tanh') {
    const s = 1 / (1 + exp(-geluZ(v)));
    return [s, v * s * (1 - s) * 2 * K * (1 + 3 * C * v * v)];
  }
  return [0.5 * erfc(-v / SQRT2), (v * exp(-0.5 * v * v)) * INV_SQRT_2PI];
}

function layoutName(s: GeluShape, form: Form): string {
  const strided = s.xStride !== 0 || s.dyStride !== 0 || s.dxStride !== 0 || s.rows === 0;
  const [c0, c1] = s.columns;
  const range = c0 === c1 ? 'empty range' : c0 === 0 && c1 === s.cols ? 'all columns' : 'column range';
  return [form, strided ? 'strided rows' : 'dense', range, s.bias ? 'bias' : '', s.inPlace ? 'in place' : ''].filter(Boolean).join(', ');
}

function geluBwdCase(dtype: Storage, form: Form, s: GeluShape, seed: number): KernelCase {
  const { rows, cols } = s;
  const [c0, c1] = s.columns;
  const dxStride = s.inPlace ? s.dyStride : s.dxStride;
  // Dense buffers hold exactly rows * cols (so a dense case has no gaps); strided ones a PAD more.
  const sizeOf = (stride: number): number => spanOf(rows, stride, cols) + (stride === 0 && rows > 0 ? 0 : PAD);
  const xSize = sizeOf(s.xStride);
  const dySize = sizeOf(s.dyStride);
  const dxSize = sizeOf(dxStride);
  // Inputs outside the rows are NaN: an element read from a gap poisons the dx it lands in.
  const gapsNaN = (xs: Float64Array, stride: number) => xs.map((v, i) => (inRows(i, rows, stride, cols) ? v : Number.NaN));
  const xData = gapsNaN(values(xSize, seed, s.range), s.xStride);
  const dyData = gapsNaN(values(dySize, seed + 1, 'bend').map((v) => v / 2), s.dyStride);
  const width = c1 - c0;
  const biasData = s.bias ? values(max(width, 1), seed + 2, 'bend').map((v) => v / 4) : undefined;

  const buffers: KernelCase['buffers'] = {
    x: { dtype, size: xSize, role: 'in', data: xData },
    dy: { dtype, size: dySize, role: s.inPlace ? 'inout' : 'in', data: dyData },
  };
  if (!s.inPlace) buffers.dx = { dtype, size: dxSize, role: 'out' };
  if (s.bias) buffers.bias = { dtype: s.bias, size: biasData!.length, role: 'in', data: biasData! };
  const outName = s.inPlace ? 'dy' : 'dx';
  const xs = s.xStride === 0 ? cols : s.xStride;
  const dys = s.dyStride === 0 ? cols : s.dyStride;
  const dxs = dxStride === 0 ? cols : dxStride;

  /** The reference dx (whole buffer), and per element the CPU bound and the GPU scale. */
  const evaluate = (init: Record<string, Float64Array>) => {
    const x = init.x!;
    const dy = init.dy!;
    const bias = init.bias;
    const dx = copyOf(init[outName]!);
    const bound = new Float64Array(dx.length);
    const scale = new Float64Array(dx.length);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const g = dy[r * dys + c]!;
        const xv = x[r * xs + c]!;
        const i = r * dxs + c;
        if (c < c0 || c >= c1) {
          dx[i] = g; // copied through, exactly
          scale[i] = abs(g) * (1 + abs(xv));
          continue;
        }
        const b = bias ? bias[c - c0]! : 0;
        const v = xv + b;
        const [ta, tb] = geluGradTerms(v, form);
        dx[i] = g * (ta + tb);
        bound[i] = conditioning(v, form) * abs(g) * (abs(ta) + abs(tb)) + TINY + (dtype === 'bf16' ? 2 ** -8 * abs(dx[i]!) : 0);
        scale[i] = abs(g) * (1 + abs(xv) + abs(b));
      }
    }
    return { dx, bound, scale };
  };

  let tolerances: { cpu: Tolerance; gpu: Tolerance } | undefined;
  const tolerancesOf = () => {
    if (!tolerances) {
      const init: Record<string, Float64Array> = { x: roundTo(dtype, xData), dy: roundTo(dtype, dyData) };
      if (biasData) init.bias = roundTo(s.bias!, biasData);
      if (!s.inPlace) init.dx = new Float64Array(dxSize).fill(Number.NaN);
      const { dx, bound, scale } = evaluate(init);
      const store = dtype === 'bf16' ? 2 ** -8 : 0;
      const c4 = conditioning(4, form);
      const cpu = fitTolerance(bound, dx, [0.5, 1, 2, 4].map((m) => m * c4 + store));
      const r = form === 'tanh' ? 2 ** -21 : 2 ** -19;
      let maxScale = 0;
      for (let i = 0; i < scale.length; i++) maxScale = max(maxScale, scale[i]!);
      tolerances = { cpu, gpu: { abs: r * maxScale + 1e-37, rel: r + (dtype === 'bf16' ? 2 ** -7 : 0) } };
    }
    return tolerances;
  };

  // The forward, for the gradient: y = gelu(x + bias) in the range, x elsewhere, laid out as dy.
  const forward = (inputs: Record<string, Float64Array>) => {
    const x = inputs.x!;
    const bias = inputs.bias;
    const y = new Float64Array(dySize);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const xv = x[r * xs + c]!;
        y[r * dys + c] = c < c0 || c >= c1 ? xv : geluRef(xv + (bias ? bias[c - c0]! : 0), form);
      }
    }
    return { y };
  };
  const sameLayout = !s.inPlace && s.xStride === 0 && s.dyStride === 0 && dxStride === 0;

  const strides = s.inPlace ? `x ${s.xStride} dy = dx ${s.dyStride}` : `x ${s.xStride} dy ${s.dyStride} dx ${dxStride}`;
  return {
    name: `${dtype} ${form} ${rows}x${cols} [${c0}, ${c1}) strides ${strides}${s.bias ? ` ${s.bias} bias` : ''}${s.inPlace ? ' in place' : ''} ${s.range}`,
    dtype: s.bias ? `${dtype}, ${s.bias} bias` : dtype,
    layout: layoutName(s, form),
    buffers,
    spec: (b) => ({
      dtype, form, rows, cols, colBegin: c0, colEnd: c1,
      x: b.x, xStride: s.xStride, dy: b.dy, dyStride: s.dyStride, dx: b[outName], dxStride,
      ...(s.bias ? { bias: b.bias, biasType: s.bias } : {}),
    }),
    reference: (init) => ({ [outName]: evaluate(init).dx }),
    get tolerance() {
      return tolerancesOf().cpu;
    },
    get gpuTolerance() {
      return tolerancesOf().gpu;
    },
    ...(sameLayout ? { gradient: { forward, wrt: ['x'], cotangents: { y: 'dy' }, grads: { x: 'dx' } } } : {}),
  };
}

const dense = (rows: number, cols: number, columns: [number, number], range: Range = 'bend', bias?: Storage): GeluShape =>
  ({ rows, cols, columns, xStride: 0, dyStride: 0, dxStride: 0, range, ...(bias ? { bias } : {}) });

/** gelu_fwd.ts's shapes, with a third stride (dx) where rows are strided (gelu.test.ts's). */
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
  // strided rows (xStride, dyStride, dxStride), with no bias, an f32 or a bf16 bias
  { rows: 1, cols: 1, columns: [0, 1], xStride: 1, dyStride: 0, dxStride: 2, bias: 'f32', range: 'bend' },
  { rows: 3, cols: 17, columns: [0, 17], xStride: 20, dyStride: 17, dxStride: 18, range: 'tails' },
  { rows: 17, cols: 38, columns: [15, 38], xStride: 41, dyStride: 40, dxStride: 39, bias: 'bf16', range: 'bend' },
  { rows: 129, cols: 129, columns: [3, 100], xStride: 300, dyStride: 129, dxStride: 130, bias: 'f32', range: 'bend' },
  { rows: 5, cols: 1031, columns: [0, 1031], xStride: 2000, dyStride: 1033, dxStride: 1500, bias: 'bf16', range: 'bend' },
  { rows: 67, cols: 257, columns: [100, 229], xStride: 400, dyStride: 260, dxStride: 258, bias: 'f32', range: 'bend' },
  { rows: 67, cols: 257, columns: [0, 257], xStride: 400, dyStride: 0, dxStride: 300, range: 'bend' },
  { rows: 2, cols: 16411, columns: [1, 16400], xStride: 16413, dyStride: 16420, dxStride: 16412, bias: 'bf16', range: 'bend' },
  { rows: 33, cols: 5, columns: [2, 2], xStride: 7, dyStride: 5, dxStride: 9, bias: 'f32', range: 'bend' },
  { rows: 0, cols: 5, columns: [1, 4], xStride: 7, dyStride: 5, dxStride: 9, bias: 'f32', range: 'bend' },
  // in place (dx is dy): dense, and strided with a bias
  { rows: 9, cols: 20, columns: [4, 13], xStride: 0, dyStride: 0, dxStride: 0, inPlace: true, range: 'bend' },
  { rows: 9, cols: 20, columns: [4, 13], xStride: 27, dyStride: 27, dxStride: 27, bias: 'f32', inPlace: true, range: 'bend' },
];

const cases: KernelCase[] = [];
SHAPES.forEach((s, i) => {
  for (const form of ['tanh', 'erf'] as Form[]) {
    for (const dtype of ['f32', 'bf16'] as Storage[]) {
      cases.push(geluBwdCase(dtype, form, s, 2000 + 10 * i + (form === 'erf' ? 2 : 0) + (dtype === 'bf16' ? 1 : 0)));
    }
  }
});

const geluBwd: KernelCases = { kernel: 'gelu_bwd', cases };
export default geluBwd;
