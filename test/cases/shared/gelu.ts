/**
 * What the GELU case files share (gelu_fwd, gelu_bwd, and gemm's GELU epilogue): GELU and its
 * derivative in float64 from the definitions (A&S 7.1.6 and 7.1.14; the same closed forms as
 * test/helpers/norm-reference.ts, written with local bindings so the references stay fast), the
 * conditioning behind the CPU bounds, and gelu_fwd's and gelu_bwd's row layouts, inputs, names and
 * shapes. Bundled into dist/kernel-checks.cjs: imports only types and test/cases/ modules.
 */
import type { KernelCase, Tolerance } from '../case-types';
import { rng } from '../case-kit';

export type Storage = 'f32' | 'bf16';
export type Form = 'tanh' | 'erf';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;
const floor = Math.floor;
const exp = Math.exp;
const SQRT2 = Math.SQRT2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/** 2^-126: results below the normal range flush to zero, an absolute slack every bound carries. */
export const TINY = 2 ** -126;

// ---- GELU in float64 ----

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
export function geluRef(x: number, form: Form): number {
  if (form === 'tanh') return x / (1 + exp(-geluZ(x)));
  return 0.5 * x * erfc(-x / SQRT2);
}

/**
 * gelu'(v) as its two terms [a, b]: a = sigmoid(z) or Phi(v), b = v sigmoid'(z) dz/dv or v phi(v)
 * (their magnitudes bound what f32 arithmetic loses where they cancel).
 */
export function geluGradTerms(v: number, form: Form): [number, number] {
  if (form === 'tanh') {
    const s = 1 / (1 + exp(-geluZ(v)));
    return [s, v * s * (1 - s) * 2 * K * (1 + 3 * C * v * v)];
  }
  return [0.5 * erfc(-v / SQRT2), (v * exp(-0.5 * v * v)) * INV_SQRT_2PI];
}

/**
 * 2^-20 (1 + |z|) (tanh) or 2^-20 (1 + v^2) (erf): the relative conditioning of gelu at v (z is
 * computed in f32 and the logistic function's relative sensitivity to it is |z| at most; erfc(y)'s
 * relative sensitivity to its argument grows like 2y^2).
 */
export function conditioning(v: number, form: Form): number {
  return 2 ** -20 * (form === 'tanh' ? 1 + abs(geluZ(v)) : 1 + v * v);
}

// ---- gelu_fwd's and gelu_bwd's cases ----

/**
 * CUDA against the CPU, from elementwise-checks.cjs geluTol: CUDA's expf / erfcf are not glibc's,
 * |d| <= r (|cpu| + scale) + 1e-37 with r = 2^-21 (tanh) or 2^-19 (erf), `scale` the per-element
 * scales of the case (their largest goes into abs); bf16 adds one rounding apart, 2^-7 |cpu|.
 */
export function geluGpuTolerance(form: Form, dtype: Storage, scale: ArrayLike<number>): Tolerance {
  const r = form === 'tanh' ? 2 ** -21 : 2 ** -19;
  let maxScale = 0;
  for (let i = 0; i < scale.length; i++) maxScale = max(maxScale, scale[i]!);
  return { abs: r * maxScale + 1e-37, rel: r + (dtype === 'bf16' ? 2 ** -7 : 0) };
}

/** Elements past the last row of every strided buffer: they must come back untouched. */
const PAD = 5;

/** Element i of a row-major buffer with this row stride lies inside a row's [0, cols). */
function inRows(i: number, rows: number, stride: number, cols: number): boolean {
  const s = stride === 0 ? cols : stride;
  const r = floor(i / s);
  return r < rows && i - r * s < cols;
}

const spanOf = (rows: number, stride: number, cols: number): number =>
  rows === 0 || cols === 0 ? 0 : (rows - 1) * (stride === 0 ? cols : stride) + cols;

/** Elements of a [rows, cols] buffer at this row stride: dense exactly rows * cols (no gaps), strided PAD more. */
export const bufferSize = (rows: number, stride: number, cols: number): number =>
  spanOf(rows, stride, cols) + (stride === 0 && rows > 0 ? 0 : PAD);

/** `xs` with NaN outside the rows (an element read from a gap poisons the output it lands in). */
export const nanOutsideRows = (xs: Float64Array, rows: number, stride: number, cols: number): Float64Array =>
  xs.map((v, i) => (inRows(i, rows, stride, cols) ? v : Number.NaN));

/**
 * Inputs: 'bend' uniform in (-4, 4), where GELU bends and the bound is tight; 'tails' random
 * sign, magnitude log-uniform in [2^-10, 16) (gelu.test.ts's range: the linear region, the bend,
 * and both tails, gelu(-16) underflowing f32).
 */
export type Range = 'bend' | 'tails';
export function values(n: number, seed: number, range: Range): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (range === 'bend') out[i] = 8 * r() - 4 || 0.5;
    else out[i] = (r() < 0.5 ? -1 : 1) * 2 ** (-10 + 14 * r());
  }
  return out;
}

/** What gelu_fwd's and gelu_bwd's shapes have in common (each file adds its strides). */
export interface GeluRows {
  rows: number;
  cols: number;
  columns: [number, number];
  bias?: Storage;
  /** The output is an input: one 'inout' buffer. */
  inPlace?: boolean;
  range: Range;
}

/** The coverage key of a case: form, rows, column range, bias, in place. */
export function geluLayout(s: GeluRows, form: Form, strided: boolean): string {
  const [c0, c1] = s.columns;
  const range = c0 === c1 ? 'empty range' : c0 === 0 && c1 === s.cols ? 'all columns' : 'column range';
  return [form, strided ? 'strided rows' : 'dense', range, s.bias ? 'bias' : '', s.inPlace ? 'in place' : ''].filter(Boolean).join(', ');
}

/** A case's name, `strides` saying the files' own strides. */
export function geluCaseName(dtype: Storage, form: Form, s: GeluRows, strides: string): string {
  const [c0, c1] = s.columns;
  return `${dtype} ${form} ${s.rows}x${s.cols} [${c0}, ${c1}) ${strides}${s.bias ? ` ${s.bias} bias` : ''}${s.inPlace ? ' in place' : ''} ${s.range}`;
}

/** A case's storage coverage key. */
export const geluDtypeKey = (dtype: Storage, s: GeluRows): string => (s.bias ? `${dtype}, ${s.bias} bias` : dtype);

const dense = (rows: number, cols: number, columns: [number, number], range: Range = 'bend', bias?: Storage): GeluRows =>
  ({ rows, cols, columns, range, ...(bias ? { bias } : {}) });

/**
 * The dense shapes of gelu.test.ts (gelu_fwd's and gelu_bwd's, every stride 0): whole matrices
 * (one element to 17011, long enough for every thread), column ranges of the fused [B*T, 3D + F]
 * output (empty, full, one column at either end, a 1-column matrix), long rows (pieces of 8192
 * columns with the range boundaries inside), and a bias on a dense range and on every column.
 */
export const GELU_DENSE_SHAPES: GeluRows[] = [
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
];

/** Every shape in both forms and both storages, shape i's seeds from base + 10 i. */
export function geluCases<S>(shapes: S[], base: number, make: (dtype: Storage, form: Form, s: S, seed: number) => KernelCase): KernelCase[] {
  const cases: KernelCase[] = [];
  shapes.forEach((s, i) => {
    for (const form of ['tanh', 'erf'] as Form[]) {
      for (const dtype of ['f32', 'bf16'] as Storage[]) {
        cases.push(make(dtype, form, s, base + 10 * i + (form === 'erf' ? 2 : 0) + (dtype === 'bf16' ? 1 : 0)));
      }
    }
  });
  return cases;
}
