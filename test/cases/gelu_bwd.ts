// gelu_bwd (lib/kernels/gelu_bwd.ts GeluBwdArgs): dx = dy * gelu'(x [+ bias]) on the columns
// [colBegin, colEnd) of a [rows, cols] matrix, dx = dy elsewhere; tanh and erf forms; f32 or bf16
// storage (math in f32, dx rounded once); rows strided (xStride / dyStride / dxStride, 0 = dense);
// an optional f32 or bf16 bias over the range; in place (dx is dy). Ported from
// test/kernels/gelu.test.ts, whose dense shapes gelu_fwd.ts shares (test/cases/shared/gelu.ts).
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
import { copyOf, roundTo } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import { bufferSize, conditioning, GELU_DENSE_SHAPES, geluCaseName, geluCases, geluDtypeKey, geluGpuTolerance, geluGradTerms, geluLayout, geluRef, nanOutsideRows, TINY, values } from './shared/gelu';
import type { Form, GeluRows, Storage } from './shared/gelu';
import { fitTolerance, withLazyTolerances } from './shared/tolerance';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;

interface GeluShape extends GeluRows {
  /** Row strides in elements (0 = dense); a strided buffer gets spare elements at its end. */
  xStride: number;
  dyStride: number;
  dxStride: number;
}

function geluBwdCase(dtype: Storage, form: Form, s: GeluShape, seed: number): KernelCase {
  const { rows, cols } = s;
  const [c0, c1] = s.columns;
  const dxStride = s.inPlace ? s.dyStride : s.dxStride;
  // Dense buffers hold exactly rows * cols (so a dense case has no gaps); strided ones a few more.
  const xSize = bufferSize(rows, s.xStride, cols);
  const dySize = bufferSize(rows, s.dyStride, cols);
  const dxSize = bufferSize(rows, dxStride, cols);
  // Inputs outside the rows are NaN: an element read from a gap poisons the dx it lands in.
  const xData = nanOutsideRows(values(xSize, seed, s.range), rows, s.xStride, cols);
  const dyData = nanOutsideRows(values(dySize, seed + 1, 'bend').map((v) => v / 2), rows, s.dyStride, cols);
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

  const tolerances = (): { cpu: Tolerance; gpu: Tolerance } => {
    const init: Record<string, Float64Array> = { x: roundTo(dtype, xData), dy: roundTo(dtype, dyData) };
    if (biasData) init.bias = roundTo(s.bias!, biasData);
    if (!s.inPlace) init.dx = new Float64Array(dxSize).fill(Number.NaN);
    const { dx, bound, scale } = evaluate(init);
    const store = dtype === 'bf16' ? 2 ** -8 : 0;
    const c4 = conditioning(4, form);
    const cpu = fitTolerance(bound, dx, [0.5, 1, 2, 4].map((m) => m * c4 + store));
    return { cpu, gpu: geluGpuTolerance(form, dtype, scale) };
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
  return withLazyTolerances({
    name: geluCaseName(dtype, form, s, `strides ${strides}`),
    dtype: geluDtypeKey(dtype, s),
    layout: geluLayout(s, form, s.xStride !== 0 || s.dyStride !== 0 || s.dxStride !== 0 || s.rows === 0),
    buffers,
    spec: (b) => ({
      dtype, form, rows, cols, colBegin: c0, colEnd: c1,
      x: b.x, xStride: s.xStride, dy: b.dy, dyStride: s.dyStride, dx: b[outName], dxStride,
      ...(s.bias ? { bias: b.bias, biasType: s.bias } : {}),
    }),
    reference: (init) => ({ [outName]: evaluate(init).dx }),
    ...(sameLayout ? { gradient: { forward, wrt: ['x'], cotangents: { y: 'dy' }, grads: { x: 'dx' } } } : {}),
  }, tolerances);
}

/** gelu_fwd.ts's shapes, with a third stride (dx) where rows are strided (gelu.test.ts's). */
const SHAPES: GeluShape[] = [
  ...GELU_DENSE_SHAPES.map((s) => ({ ...s, xStride: 0, dyStride: 0, dxStride: 0 })),
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

const cases = geluCases(SHAPES, 2000, geluBwdCase);

const geluBwd: KernelCases = { kernel: 'gelu_bwd', cases };
export default geluBwd;
