/**
 * layer_norm_bwd (lib/kernels/layer_norm_bwd.ts LayerNormBwdArgs; spec at the top of
 * lib/kernels/layer_norm_bwd.ts): the backward of LayerNorm (center) and RMSNorm (!center),
 * with and without dbias, f32 / bf16 storage with f32 / bf16 scale, the residual gradient
 * (dresidual added to dx, also in place: dresidual == dx), and RowLayout x / dy / dx / dresidual
 * (the per-head QK-norm's gradient written back into the fused projection's gradient).
 *
 * The kernel's inputs mean / rstd are the forward's statistics: here the float64 statistics of the
 * case's (rounded) x, rounded to f32 as the forward would store them. The reference takes them as
 * given (the kernel promises its formula for the statistics it is handed), in float64 naive loops:
 *   xhat = (x - mean) rstd (mean = 0 without center), g = dy scale
 *   dx = rstd (g - mean_D(g) [center] - xhat mean_D(g xhat)) (+ dresidual)
 *   dscale = sum_rows dy xhat, dbias = sum_rows dy
 * Inputs as in layer_norm_fwd.ts: x rows around an offset in [-8, 8), dy in +-[0.1, 1), dresidual in
 * +-[0.1, 3), scale in +-[0.5, 2). Input gaps of laid-out operands hold NaN (a read shows up) except
 * in the cotangent / accumulator buffers of cases with a gradient check, whose gaps are random (the
 * check multiplies every element); output gaps keep their poison / initial values.
 *
 * Gradient: dx, dscale, dbias against central differences of layer_norm_fwd's float64 reference
 * (norm-reference.ts layerNormRef, with the eps the statistics were taken with) of
 * L = <dy, y> (+ <dresidual, x> for the residual branch of x + f(norm(x))). Possible where the
 * runner's element-by-element products line up: dense operands, or dx == dresidual in place with
 * dx laid out like x (the runner then takes dx's increment); and on cases up to 20000 elements
 * (the larger ones add time, not paths). The statistics given to the kernel are the f32 roundings
 * of the float64 ones, so the reference is the gradient at slightly moved statistics: the default
 * { abs: 1e-7, rel: 1e-5 } plus, in abs, 4 times the first-order effect of those roundings
 * (rstd: 2^-24 relative; mean: 2^-24 |mean|) on <dx, v> + <dscale, v>. It matters where dx cancels
 * (D = 1 RMSNorm: dx = rstd g (1 - xhat^2) with xhat^2 ~ 1), not on ordinary rows.
 *
 * Tolerances, carried over from test/kernels/layer-norm.test.ts and layer-norm-layout.test.ts
 * (u = 2^-23; lanes = u (D/16 + 16): the CPU sums each row in 16 lanes; the gradient sums go over
 * at most 64 row blocks):
 *   dx      |err| <= 4 lanes (rstd (|g| + |mean g| + |xhat| mean|g xhat|)
 *                             + rstd^2 mean|x| (mean|g xhat| + |xhat| mean|g|))
 *                   (+ u |dx| for the dresidual sum's rounding, + 2^-8 |dx| stored in bf16)
 *   dscale  |err| <= 2 u (rows/64 + 64 + D/16 + 16) sum_rows |dy xhat|;  dbias likewise with |dy|
 * As { abs: the largest bound over the case's elements, rel: the rounding terms }.
 * CUDA vs CPU (test/gpu/optim-checks.cjs): dx 8 u (D/16 + 16) mag (+ 2u |dx| with dresidual in f32,
 * + 2^-7 |dx| in bf16); dscale / dbias 4 u (rows/8 + 64 + D/16 + 16) sum_rows |term|.
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { copyOf, roundTo, toF32 } from './case-kit';
import { layerNormRef } from '../helpers/norm-reference';
import { BF, denseShapes, DTYPES, dtypeKey, extent, gather, inRows, LAYOUT_SIZES, LAYOUT_VARIANTS, nonZero, NORM_VARIANTS, normInput, normName, PAD, sameLayout, scatterInto, U } from './shared/layer-norm';
import type { Layout, Variant } from './shared/layer-norm';

/** The backward in float64 from the given statistics (the formulas of the header). */
function backwardRef(
  x: ArrayLike<number>, scale: ArrayLike<number>, mean: ArrayLike<number>, rstd: ArrayLike<number>, dy: ArrayLike<number>,
  rows: number, dim: number, center: boolean,
): { dx: Float64Array; dscale: Float64Array; dbias: Float64Array } {
  const dx = new Float64Array(rows * dim), dscale = new Float64Array(dim), dbias = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const mu = center ? mean[r]! : 0, rs = rstd[r]!;
    let sumG = 0, sumGx = 0;
    for (let j = 0; j < dim; j++) {
      const g = dy[r * dim + j]! * scale[j]!;
      sumG += g;
      sumGx += g * (x[r * dim + j]! - mu) * rs;
    }
    const meanG = center ? sumG / dim : 0, meanGx = sumGx / dim;
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      const xhat = (x[i]! - mu) * rs;
      dx[i] = rs * (dy[i]! * scale[j]! - meanG - xhat * meanGx);
      dscale[j] = dscale[j]! + dy[i]! * xhat;
      dbias[j] = dbias[j]! + dy[i]!;
    }
  }
  return { dx, dscale, dbias };
}

interface Params extends Variant {
  rows: number;
  dim: number;
  /** none; a separate dresidual buffer; or dresidual == dx (in place, dx's layout). */
  residual: 'none' | 'separate' | 'inplace';
  xLayout?: Layout;
  dyLayout?: Layout;
  dxLayout?: Layout;
  dresidualLayout?: Layout;
  layoutText?: string;
  seed: number;
}

const EPS = 1e-5; // of the forward whose statistics the cases hand to the backward

function makeCase(p: Params): KernelCase {
  const { rows, dim, dtype, paramType, center, residual } = p;
  const laidOut = !!(p.xLayout || p.dyLayout || p.dxLayout || p.dresidualLayout);
  const pad = laidOut ? PAD : 0;
  const xL = p.xLayout, dyL = p.dyLayout, dxL = p.dxLayout;
  const drL = residual === 'inplace' ? dxL : p.dresidualLayout;
  const eps = toF32(EPS);

  // Gradient check where the runner's products line up (see the header).
  // (Not on the largest cases, where it would double the file's time for no new path.)
  const gradient = rows * dim <= 20000 && (laidOut ? residual === 'inplace' && sameLayout(xL, dxL) : true);
  const gapFill = (size: number, seed: number): Float64Array =>
    gradient ? nonZero(size, seed, 0.1, 1) : new Float64Array(size).fill(Number.NaN);

  const xDense = roundTo(dtype, normInput(rows, dim, p.seed));
  const scale = roundTo(paramType, nonZero(dim, p.seed + 1, 0.5, 2));
  const biasValues = roundTo(paramType, nonZero(dim, p.seed + 2, 0.1, 1));
  const dyDense = roundTo(dtype, nonZero(rows * dim, p.seed + 3, 0.1, 1));
  const dresDense = residual === 'none' ? undefined : roundTo(dtype, nonZero(rows * dim, p.seed + 4, 0.1, 3));
  // The forward's statistics, as it stores them (f32).
  const stats = layerNormRef(xDense, scale, undefined, rows, dim, eps, center);
  const mean = roundTo('f32', stats.mean);
  const rstd = roundTo('f32', stats.rstd);

  const xBuf = scatterInto(new Float64Array(extent(xL, rows, dim) + pad).fill(Number.NaN), xDense, xL, rows, dim);
  const dyBuf = scatterInto(gapFill(extent(dyL, rows, dim) + pad, p.seed + 5), dyDense, dyL, rows, dim);
  const buffers: Record<string, CaseBuffer> = {
    x: { dtype, size: xBuf.length, role: 'in', data: xBuf },
    scale: { dtype: paramType, size: dim, role: 'in', data: scale },
    rstd: { dtype: 'f32', size: rows, role: 'in', data: rstd },
    dy: { dtype, size: dyBuf.length, role: 'in', data: dyBuf },
    dscale: { dtype: 'f32', size: dim, role: 'out' },
  };
  if (center) buffers.mean = { dtype: 'f32', size: rows, role: 'in', data: mean };
  if (p.bias) buffers.dbias = { dtype: 'f32', size: dim, role: 'out' };
  if (residual === 'inplace') {
    const dxBuf = scatterInto(gapFill(extent(dxL, rows, dim) + pad, p.seed + 6), dresDense!, dxL, rows, dim);
    buffers.dx = { dtype, size: dxBuf.length, role: 'inout', data: dxBuf };
  } else {
    buffers.dx = { dtype, size: extent(dxL, rows, dim) + pad, role: 'out' };
  }
  if (residual === 'separate') {
    const drBuf = scatterInto(gapFill(extent(drL, rows, dim) + pad, p.seed + 7), dresDense!, drL, rows, dim);
    buffers.dresidual = { dtype, size: drBuf.length, role: 'in', data: drBuf };
  }
  // The forward's bias: not an operand of the backward, only read by the gradient check's forward.
  if (gradient && p.bias) buffers.bias = { dtype: paramType, size: dim, role: 'in', data: biasValues };

  // Bounds of the header from the case's own inputs.
  const lanes = U * (dim / 16 + 16);
  let dxTerms = 0, gpuDxMag = 0, statsError = 0;
  const dscaleAbs = new Float64Array(dim), dbiasAbs = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const mu = center ? mean[r]! : 0, rs = rstd[r]!;
    let meanAbs = 0, meanAbsG = 0, meanAbsGx = 0, meanG = 0;
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j, g = dyDense[i]! * scale[j]!, h = (xDense[i]! - mu) * rs;
      meanAbs += Math.abs(xDense[i]!) / dim;
      meanAbsG += Math.abs(g) / dim;
      meanAbsGx += Math.abs(g * h) / dim;
      meanG += g / dim;
      dscaleAbs[j] = dscaleAbs[j]! + Math.abs(dyDense[i]! * h);
      dbiasAbs[j] = dbiasAbs[j]! + Math.abs(dyDense[i]!);
    }
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j, g = Math.abs(dyDense[i]! * scale[j]!), h = Math.abs((xDense[i]! - mu) * rs);
      const dxScale = rs * (g + (center ? Math.abs(meanG) : 0) + h * meanAbsGx);
      dxTerms = Math.max(dxTerms, dxScale + rs * rs * meanAbs * (meanAbsGx + h * meanAbsG));
      gpuDxMag = Math.max(gpuDxMag, rs * (g + meanAbsG + h * meanAbsGx + rs * meanAbs * (meanAbsGx + h * meanAbsG)));
      // What the f32 roundings of rstd (relative 2^-24) and mean (2^-24 |mean|) move the reference's
      // <dx, v> + <dscale, v> by, |v| <= 1: the first-order terms of dx and dscale in them, x 4.
      statsError += 2 ** -22 * (2 * dxScale + rs * rs * Math.abs(mu) * (meanAbsGx + h * meanAbsG) + Math.abs(dyDense[i]!) * (h + rs * Math.abs(mu)));
    }
  }
  const maxOf = (a: Float64Array) => a.reduce((m, v) => Math.max(m, v), 0);
  const store = dtype === 'bf16' ? BF : 0;
  const res = residual !== 'none' ? U : 0;
  const sums = 2 * U * (rows / 64 + 64 + dim / 16 + 16);
  const gpuSums = 4 * U * (rows / 8 + 64 + dim / 16 + 16);
  const cpuTol: Record<string, Tolerance> = {
    dx: { abs: 4 * lanes * dxTerms, rel: res + store },
    dscale: { abs: sums * maxOf(dscaleAbs), rel: 0 },
  };
  const gpuTol: Record<string, Tolerance> = {
    dx: { abs: 8 * U * (dim / 16 + 16) * gpuDxMag, rel: (dtype === 'f32' ? 2 * res : 0) + 2 * store },
    dscale: { abs: gpuSums * maxOf(dscaleAbs), rel: 0 },
  };
  if (p.bias) {
    cpuTol.dbias = { abs: sums * maxOf(dbiasAbs), rel: 0 };
    gpuTol.dbias = { abs: gpuSums * maxOf(dbiasAbs), rel: 0 };
  }

  const norm = normName(center, p.bias);
  const layoutText = p.layoutText ?? (laidOut ? 'grouped x, dy, dx' : 'dense');
  const residualText = residual === 'none' ? 'no dresidual' : residual === 'separate' ? 'dresidual' : 'dresidual in place (dx)';
  const dtypes = dtypeKey(dtype, paramType);

  const kase: KernelCase = {
    name: `${dtypes} ${rows}x${dim} ${norm} ${layoutText}, ${residualText}`,
    dtype: dtypes,
    layout: `${norm}, ${layoutText}, ${residualText}`,
    buffers,
    spec: (b) => ({
      dtype, paramType, rows, dim, center,
      x: b.x, scale: b.scale, rstd: b.rstd, dy: b.dy, dx: b.dx, dscale: b.dscale,
      ...(center ? { mean: b.mean } : {}),
      ...(p.bias ? { dbias: b.dbias } : {}),
      ...(residual === 'separate' ? { dresidual: b.dresidual } : residual === 'inplace' ? { dresidual: b.dx } : {}),
      ...(xL ? { xLayout: xL } : {}),
      ...(dyL ? { dyLayout: dyL } : {}),
      ...(dxL ? { dxLayout: dxL } : {}),
      ...(residual !== 'none' && drL ? { dresidualLayout: drL } : {}),
    }),
    reference: (initial) => {
      const x = gather(initial.x!, xL, rows, dim);
      const dy = gather(initial.dy!, dyL, rows, dim);
      const meanIn = center ? initial.mean! : new Float64Array(rows);
      const b = backwardRef(x, initial.scale!, meanIn, initial.rstd!, dy, rows, dim, center);
      if (residual !== 'none') {
        const dres = gather(residual === 'inplace' ? initial.dx! : initial.dresidual!, drL, rows, dim);
        for (let i = 0; i < rows * dim; i++) b.dx[i] = b.dx[i]! + dres[i]!;
      }
      const out: Record<string, ArrayLike<number>> = { dx: scatterInto(copyOf(initial.dx!), b.dx, dxL, rows, dim), dscale: b.dscale };
      if (p.bias) out.dbias = b.dbias;
      return out;
    },
    tolerance: cpuTol,
    gpuTolerance: gpuTol,
  };
  if (gradient) {
    kase.gradient = {
      // layer_norm_fwd's reference: y laid out like dy (zeros in its gaps, whose cotangents are
      // finite), and for a separate dresidual the residual branch's x itself (dense here).
      forward: (inputs) => {
        const y = layerNormRef(gather(inputs.x!, xL, rows, dim), inputs.scale!, p.bias ? inputs.bias! : undefined, rows, dim, eps, center).y;
        const out: Record<string, ArrayLike<number>> = { y: scatterInto(new Float64Array(buffers.dy!.size), y, dyL, rows, dim) };
        if (residual === 'separate') out.res = Float64Array.from(inputs.x!);
        return out;
      },
      wrt: p.bias ? ['x', 'scale', 'bias'] : ['x', 'scale'],
      cotangents: residual === 'separate' ? { y: 'dy', res: 'dresidual' } : { y: 'dy' },
      grads: { x: 'dx', scale: 'dscale', ...(p.bias ? { bias: 'dbias' } : {}) },
      ...(laidOut ? { mask: { x: (i: number) => inRows(xL, rows, dim, i) } } : {}),
      tolerance: { abs: 1e-7 + statsError, rel: 1e-5 },
    };
  }
  return kase;
}

const cases: KernelCase[] = [];
let seed = 2000;

// Dense: every norm variant with every storage / parameter pair, without a residual, each with
// three shapes (shared/layer-norm.ts), the larger ones with more rows than the 64 gradient blocks
// (D = 1 centered: xhat = 0, dx = 0).
for (const shape of denseShapes()) cases.push(makeCase({ ...shape, residual: 'none', seed: seed++ }));
// Dense with the residual gradient, separate and in place, for every storage pair and variant;
// half of them with more rows than the 64 gradient blocks.
let k = 0;
for (const [dtype, paramType] of DTYPES) {
  for (const residual of ['separate', 'inplace'] as const) {
    for (const v of NORM_VARIANTS) {
      const [rows, dim] = k++ % 2 === 0 ? [12, 17] : [70, 129];
      cases.push(makeCase({ dtype, paramType, rows: rows!, dim: dim!, ...v, residual, seed: seed++ }));
    }
    k++;
  }
}
// The per-head QK-norm shape, [2, 5, 3, 16] as 30 rows of 16 (dense).
for (const [dtype, center] of [['f32', false], ['f32', true], ['bf16', false]] as const) {
  cases.push(makeCase({ dtype, paramType: 'f32', rows: 30, dim: 16, center, bias: false, residual: 'none', layoutText: 'dense [B, T, H, Dh]', seed: seed++ }));
}
// No rows: dscale and dbias are empty sums, zero.
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 0, dim: 5, center: true, bias: true, residual: 'none', layoutText: 'no rows', seed: seed++ }));
// ... and RMSNorm's (test/gpu/optim-checks.cjs's rows = 0 check).
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 0, dim: 5, center: false, bias: true, residual: 'none', layoutText: 'no rows', seed: seed++ }));

// Row layouts (shared/layer-norm.ts: test/kernels/layer-norm-layout.test.ts's sizes), with its
// layout assignments.
LAYOUT_VARIANTS.forEach((v, vi) => {
  LAYOUT_SIZES.forEach((s, i) => {
    // The three residual modes on every variant at the QK-norm size; the other sizes rotate through
    // the modes (shifted per variant, so each size meets each mode) to keep the file fast.
    const all = ['none', 'separate', 'inplace'] as const;
    const modes = i === 0 ? all : [all[(i + vi) % 3]!];
    for (const residual of modes) {
      const layouts =
        residual === 'none' ? { xLayout: s.x, dyLayout: s.other, dxLayout: s.x }
        : residual === 'separate' ? { xLayout: s.x, dyLayout: s.x, dxLayout: s.other, dresidualLayout: s.x }
        : { xLayout: s.other, dyLayout: s.x, dxLayout: s.x };
      cases.push(makeCase({ ...v, rows: s.rows, dim: s.dim, residual, ...layouts, seed: seed++ }));
    }
  });
});
// In place with dx laid out like x (the QK-norm's gradient accumulated into the fused projection's
// gradient): these carry the gradient check through the layouts.
for (const v of LAYOUT_VARIANTS) {
  for (const s of [LAYOUT_SIZES[0]!, LAYOUT_SIZES[1]!]) {
    cases.push(makeCase({ ...v, rows: s.rows, dim: s.dim, residual: 'inplace', xLayout: s.x, dyLayout: s.other, dxLayout: s.x, layoutText: 'grouped x = dx, dy', seed: seed++ }));
  }
}
// Only x laid out (dy, dx, dresidual dense); explicit { groupRows: 0 } layouts (dense).
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, residual: 'separate', xLayout: LAYOUT_SIZES[0]!.x, layoutText: 'grouped x', seed: seed++ }));
cases.push(makeCase({
  dtype: 'bf16', paramType: 'f32', rows: 30, dim: 8, center: true, bias: false, residual: 'none',
  xLayout: { groupRows: 0, groupStride: 999 }, dxLayout: { groupRows: 0, groupStride: 0 }, layoutText: 'explicit groupRows 0', seed: seed++,
}));

const layerNormBwd: KernelCases = { kernel: 'layer_norm_bwd', cases };
export default layerNormBwd;
