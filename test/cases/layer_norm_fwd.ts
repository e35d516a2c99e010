/**
 * layer_norm_fwd (lib/kernels/layer_norm_fwd.ts LayerNormFwdArgs; spec at the top of
 * lib/kernels/layer_norm_fwd.ts): LayerNorm (center) and RMSNorm (!center), with and without
 * bias, f32 / bf16 storage with f32 / bf16 parameters, the optional mean / rstd outputs, and
 * RowLayout x / y (the per-head QK-norm reading q out of the fused [B*T, 3D + F] projection).
 *
 * Reference: layerNormRef of test/helpers/norm-reference.ts (float64 naive loops, two-pass
 * variance) on the rows gathered through the layouts, eps as the f32 the kernel receives.
 * Inputs: x rows around a random offset in [-8, 8) (so that centering matters and a one-pass
 * variance would cancel), |x - offset| in [0.05, 2); scale in +-[0.5, 2), bias in +-[0.1, 1). Input
 * gaps (between groups, and a tail) hold NaN, so a read of a gap shows up as NaN in y; output gaps
 * hold the runner's poison, which the reference keeps.
 *
 * Tolerances, carried over from test/kernels/layer-norm.test.ts (the CPU kernel sums each row in 16
 * lanes, so a row sum of D terms carries about D/16 + 4 roundings; u = 2^-23, lanes = u (D/16 + 16)):
 *   y     |err| <= lanes * (|scale_j| (|xhat| + rstd mean_row|x|) + |bias_j|)   (+ 2^-8 |y| in bf16)
 *         (rstd mean|x|: mu's error spreads to every xhat of its row)
 *   mean  |err| <= lanes * mean_row|x|;     rstd: relative error <= lanes
 * The case tolerance is { abs: the largest of these bounds over the case's elements, rel: the bf16
 * rounding }: one abs per output, computed from the case's own (rounded) inputs.
 * CUDA vs CPU (test/gpu/optim-checks.cjs): the two sum rows in different orders, so twice the bound
 * above, and stored bf16 values may land one bf16 rounding apart (2^-7 relative).
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { copyOf, roundTo, toF32 } from './case-kit';
import { layerNormRef } from '../helpers/norm-reference';
import { BF, denseShapes, dtypeKey, extent, gather, LAYOUT_SIZES, LAYOUT_VARIANTS, nonZero, normInput, normName, PAD, scatterInto, U } from './shared/layer-norm';
import type { Layout, Variant } from './shared/layer-norm';

interface Params extends Variant {
  rows: number;
  dim: number;
  /** Which statistics the call saves: mean (center only) and rstd, rstd alone, or none. */
  stats: 'both' | 'rstd' | 'none';
  eps: number;
  xLayout?: Layout;
  yLayout?: Layout;
  /** The layout key's description of the layouts ('dense' when both are). */
  layoutText?: string;
  seed: number;
}

function makeCase(p: Params): KernelCase {
  const { rows, dim, dtype, paramType, center } = p;
  const eps = toF32(p.eps); // the kernel takes eps as an f32
  const saveMean = center && p.stats === 'both';
  const saveRstd = p.stats !== 'none';

  const xDense = roundTo(dtype, normInput(rows, dim, p.seed));
  const scale = roundTo(paramType, nonZero(dim, p.seed + 1, 0.5, 2));
  const bias = p.bias ? roundTo(paramType, nonZero(dim, p.seed + 2, 0.1, 1)) : undefined;
  const xBuf = scatterInto(new Float64Array(extent(p.xLayout, rows, dim) + PAD).fill(Number.NaN), xDense, p.xLayout, rows, dim);

  // The bounds of the header, from the case's own rounded inputs.
  const f = layerNormRef(xDense, scale, bias, rows, dim, eps, center);
  const lanes = U * (dim / 16 + 16);
  let yTerms = 0, meanTerms = 0;
  for (let r = 0; r < rows; r++) {
    let meanAbs = 0;
    for (let j = 0; j < dim; j++) meanAbs += Math.abs(xDense[r * dim + j]!) / dim;
    meanTerms = Math.max(meanTerms, meanAbs);
    for (let j = 0; j < dim; j++) {
      const t = Math.abs(scale[j]!) * (Math.abs(f.xhat[r * dim + j]!) + f.rstd[r]! * meanAbs) + (bias ? Math.abs(bias[j]!) : 0);
      yTerms = Math.max(yTerms, t);
    }
  }
  const store = dtype === 'bf16' ? BF : 0;
  const cpuTol: Record<string, Tolerance> = { y: { abs: lanes * yTerms, rel: store } };
  const gpuTol: Record<string, Tolerance> = { y: { abs: 2 * lanes * yTerms, rel: 2 * store } };
  if (saveMean) {
    cpuTol.mean = { abs: lanes * meanTerms, rel: 0 };
    gpuTol.mean = { abs: 2 * lanes * meanTerms, rel: 0 };
  }
  if (saveRstd) {
    cpuTol.rstd = { abs: 0, rel: lanes };
    gpuTol.rstd = { abs: 0, rel: 2 * lanes };
  }

  const buffers: Record<string, CaseBuffer> = {
    x: { dtype, size: xBuf.length, role: 'in', data: xBuf },
    scale: { dtype: paramType, size: dim, role: 'in', data: scale },
    y: { dtype, size: extent(p.yLayout, rows, dim) + PAD, role: 'out' },
  };
  if (bias) buffers.bias = { dtype: paramType, size: dim, role: 'in', data: bias };
  if (saveMean) buffers.mean = { dtype: 'f32', size: rows, role: 'out' };
  if (saveRstd) buffers.rstd = { dtype: 'f32', size: rows, role: 'out' };

  const norm = normName(center, p.bias);
  const statsText = p.stats === 'both' ? '' : p.stats === 'rstd' ? ', rstd only' : ', no statistics';
  const layoutText = p.layoutText ?? (p.xLayout || p.yLayout ? 'grouped x, y' : 'dense');
  const dtypes = dtypeKey(dtype, paramType);
  return {
    name: `${dtypes} ${rows}x${dim} ${norm} ${layoutText}${statsText}${p.eps !== 1e-5 ? ` eps ${p.eps}` : ''}`,
    dtype: dtypes,
    layout: `${norm}, ${layoutText}${statsText}`,
    buffers,
    spec: (b) => ({
      dtype, paramType, rows, dim, eps: p.eps, center,
      x: b.x, scale: b.scale, y: b.y,
      ...(bias ? { bias: b.bias } : {}),
      ...(saveMean ? { mean: b.mean } : {}),
      ...(saveRstd ? { rstd: b.rstd } : {}),
      ...(p.xLayout ? { xLayout: p.xLayout } : {}),
      ...(p.yLayout ? { yLayout: p.yLayout } : {}),
    }),
    reference: (initial) => {
      const x = gather(initial.x!, p.xLayout, rows, dim);
      const ref = layerNormRef(x, initial.scale!, bias ? initial.bias! : undefined, rows, dim, eps, center);
      const out: Record<string, ArrayLike<number>> = { y: scatterInto(copyOf(initial.y!), ref.y, p.yLayout, rows, dim) };
      if (saveMean) out.mean = ref.mean;
      if (saveRstd) out.rstd = ref.rstd;
      return out;
    },
    tolerance: cpuTol,
    gpuTolerance: gpuTol,
  };
}

const cases: KernelCase[] = [];
let seed = 1000;

// Dense: every norm variant with every storage / parameter pair and three shapes (shared/layer-norm.ts).
for (const shape of denseShapes()) cases.push(makeCase({ ...shape, stats: 'both', eps: 1e-5, seed: seed++ }));

// The per-head QK-norm shape: x [B, T, H, Dh] = [2, 5, 3, 16] as 30 rows of 16, one scale shared by
// the heads (dense here; read out of the fused projection below).
for (const [dtype, center] of [['f32', false], ['f32', true], ['bf16', false]] as const) {
  cases.push(makeCase({ dtype, paramType: 'f32', rows: 30, dim: 16, center, bias: false, stats: 'both', eps: 1e-6, seed: seed++ }));
}

// eps matters: 0.5 next to a row variance of ~1.
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 7, dim: 33, center: true, bias: true, stats: 'both', eps: 0.5, seed: seed++ }));

// The statistics are optional: rstd alone (a LayerNorm whose backward recomputes nothing but needs no
// mean is not a thing, but the kernel promises each output independently), and none (inference).
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 17, dim: 129, center: true, bias: true, stats: 'rstd', eps: 1e-5, seed: seed++ }));
cases.push(makeCase({ dtype: 'bf16', paramType: 'f32', rows: 129, dim: 17, center: true, bias: false, stats: 'none', eps: 1e-5, seed: seed++ }));
cases.push(makeCase({ dtype: 'f32', paramType: 'bf16', rows: 130, dim: 257, center: false, bias: false, stats: 'none', eps: 1e-6, seed: seed++ }));

// Row layouts (shared/layer-norm.ts: test/kernels/layer-norm-layout.test.ts's sizes), x and y each its own.
for (const v of LAYOUT_VARIANTS) {
  for (const s of LAYOUT_SIZES) {
    cases.push(makeCase({ ...v, rows: s.rows, dim: s.dim, stats: 'both', eps: 1e-5, xLayout: s.x, yLayout: s.other, seed: seed++ }));
  }
}
// The QK-norm as the model runs it: q read straight out of the fused [B*T, 3D + F] projection
// output (B*T = 10, H = 4, Dh = 16, D = 64, F = 256: groups of H rows, 3D + F apart), y dense.
for (const dtype of ['f32', 'bf16'] as const) {
  cases.push(makeCase({
    dtype, paramType: 'f32', rows: 40, dim: 16, center: false, bias: false, stats: 'rstd', eps: 1e-6,
    xLayout: { groupRows: 4, groupStride: 3 * 64 + 256 }, layoutText: 'grouped x (q of the fused projection)', seed: seed++,
  }));
}
// Only x laid out, only y laid out; and explicit { groupRows: 0 } layouts (dense, groupStride ignored).
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, stats: 'both', eps: 1e-5, xLayout: LAYOUT_SIZES[0]!.x, layoutText: 'grouped x', seed: seed++ }));
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, stats: 'both', eps: 1e-5, yLayout: LAYOUT_SIZES[0]!.x, layoutText: 'grouped y', seed: seed++ }));
cases.push(makeCase({
  dtype: 'bf16', paramType: 'f32', rows: 30, dim: 8, center: true, bias: false, stats: 'both', eps: 1e-5,
  xLayout: { groupRows: 0, groupStride: 999 }, yLayout: { groupRows: 0, groupStride: 0 }, layoutText: 'explicit groupRows 0', seed: seed++,
}));

const layerNormFwd: KernelCases = { kernel: 'layer_norm_fwd', cases };
export default layerNormFwd;
