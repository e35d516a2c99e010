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
import { copyOf, roundTo } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import { bufferSize, conditioning, GELU_DENSE_SHAPES, geluCaseName, geluCases, geluDtypeKey, geluGpuTolerance, geluLayout, geluRef, nanOutsideRows, TINY, values } from './shared/gelu';
import type { Form, GeluRows, Storage } from './shared/gelu';
import { fitTolerance, withLazyTolerances } from './shared/tolerance';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;

interface GeluShape extends GeluRows {
  /** Row strides in elements (0 = dense); a strided buffer gets spare elements at its end. */
  xStride: number;
  yStride: number;
}

function geluCase(dtype: Storage, form: Form, s: GeluShape, seed: number): KernelCase {
  const { rows, cols } = s;
  const [c0, c1] = s.columns;
  const yStride = s.inPlace ? s.xStride : s.yStride;
  // Dense buffers hold exactly rows * cols (so a dense case has no gaps); strided ones a few more.
  const xSize = bufferSize(rows, s.xStride, cols);
  const ySize = bufferSize(rows, yStride, cols);
  // x outside the rows is NaN: an element read from a gap poisons the y it lands in.
  const xData = nanOutsideRows(values(xSize, seed, s.range), rows, s.xStride, cols);
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
  const tolerances = (): { cpu: Tolerance; gpu: Tolerance } => {
    const init: Record<string, Float64Array> = { x: roundTo(dtype, xData) };
    if (biasData) init.bias = roundTo(s.bias!, biasData);
    if (!s.inPlace) init.y = new Float64Array(ySize).fill(Number.NaN);
    const { y, bound, scale } = evaluate(init);
    const store = dtype === 'bf16' ? 2 ** -8 : 0;
    // rel candidates: the conditioning at |v| = 4 (the bend), and the worst of the case.
    let worst = 0;
    for (let i = 0; i < y.length; i++) if (bound[i]! > 0) worst = max(worst, (bound[i]! - TINY) / abs(y[i]!) || 0);
    const cpu = fitTolerance(bound, y, [conditioning(4, form) + store, worst]);
    return { cpu, gpu: geluGpuTolerance(form, dtype, scale) };
  };

  const strides = s.inPlace ? `stride ${s.xStride}` : `strides x ${s.xStride} y ${s.yStride}`;
  return withLazyTolerances({
    name: geluCaseName(dtype, form, s, strides),
    dtype: geluDtypeKey(dtype, s),
    layout: geluLayout(s, form, s.xStride !== 0 || s.yStride !== 0 || s.rows === 0),
    buffers,
    spec: (b) => ({
      dtype, form, rows, cols, colBegin: c0, colEnd: c1,
      x: b.x, xStride: s.xStride, y: b[outName], yStride,
      ...(s.bias ? { bias: b.bias, biasType: s.bias } : {}),
    }),
    reference: (init) => ({ [outName]: evaluate(init).y }),
  }, tolerances);
}

/**
 * The shapes of gelu.test.ts (gelu_bwd.ts has the same list, with its own strides): the dense
 * shapes of shared/gelu.ts, strided rows with and without a bias, rows = 0, and in place.
 */
const SHAPES: GeluShape[] = [
  ...GELU_DENSE_SHAPES.map((s) => ({ ...s, xStride: 0, yStride: 0 })),
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

const cases = geluCases(SHAPES, 1000, geluCase);

const geluFwd: KernelCases = { kernel: 'gelu_fwd', cases };
export default geluFwd;
