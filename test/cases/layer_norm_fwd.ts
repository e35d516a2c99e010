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
import { copyOf, rng, roundTo, toF32 } from './case-kit';
import { layerNormRef } from '../helpers/norm-reference';

const U = 2 ** -23;
const BF = 2 ** -8;
/** Elements after each laid-out operand's extent: a write past the last row shows up there. */
const PAD = 7;

type Storage = 'f32' | 'bf16';

interface Layout {
  groupRows: number;
  groupStride: number;
}

/** First element of row r (lib/kernels/records.ts RowLayout; undefined or groupRows 0 is dense). */
function rowStart(l: Layout | undefined, dim: number, r: number): number {
  if (!l || l.groupRows === 0) return r * dim;
  return Math.floor(r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim;
}

/** Elements a [rows, dim] operand spans under l. */
function extent(l: Layout | undefined, rows: number, dim: number): number {
  if (!l || l.groupRows === 0) return rows * dim;
  return rows === 0 ? 0 : (rows / l.groupRows - 1) * l.groupStride + l.groupRows * dim;
}

/** The rows of a laid-out buffer, dense. */
function gather(buf: ArrayLike<number>, l: Layout | undefined, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = rowStart(l, dim, r);
    for (let j = 0; j < dim; j++) out[r * dim + j] = buf[s + j]!;
  }
  return out;
}

/** Dense rows written into `into` (a copy of the buffer's initial contents) at the layout's places. */
function scatterInto(into: Float64Array, dense: ArrayLike<number>, l: Layout | undefined, rows: number, dim: number): Float64Array {
  for (let r = 0; r < rows; r++) {
    const s = rowStart(l, dim, r);
    for (let j = 0; j < dim; j++) into[s + j] = dense[r * dim + j]!;
  }
  return into;
}

/** n values sign * [lo, hi) from `seed`: never zero. */
function nonZero(n: number, seed: number, lo: number, hi: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());
  return out;
}

/** x [rows, dim]: rows around a random offset in [-8, 8), so that centering matters. */
function normInput(rows: number, dim: number, seed: number): Float64Array {
  const x = nonZero(rows * dim, seed, 0.05, 2);
  const r = rng(seed + 7919);
  for (let i = 0; i < rows; i++) {
    const offset = (r() - 0.5) * 16;
    for (let j = 0; j < dim; j++) x[i * dim + j] = x[i * dim + j]! + offset;
  }
  return x;
}

interface Params {
  dtype: Storage;
  paramType: Storage;
  rows: number;
  dim: number;
  center: boolean;
  bias: boolean;
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

  const norm = `${center ? 'LayerNorm' : 'RMSNorm'}${p.bias ? '+bias' : ''}`;
  const statsText = p.stats === 'both' ? '' : p.stats === 'rstd' ? ', rstd only' : ', no statistics';
  const layoutText = p.layoutText ?? (p.xLayout || p.yLayout ? 'grouped x, y' : 'dense');
  const dtypeKey = paramType === dtype ? dtype : `${dtype}, ${paramType} params`;
  return {
    name: `${dtypeKey} ${rows}x${dim} ${norm} ${layoutText}${statsText}${p.eps !== 1e-5 ? ` eps ${p.eps}` : ''}`,
    dtype: dtypeKey,
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

// Dense: every norm variant with every storage / parameter pair. Each gets a tiny shape, an odd one
// (dim 1031 > 512: CUDA's block-per-row path) and a larger one (below); D = 1 centers every element
// to 0 (y = bias).
const VARIANTS = [
  { center: true, bias: true },
  { center: true, bias: false },
  { center: false, bias: false }, // the ViT-22B norm
  { center: false, bias: true },
];
const DTYPES: [Storage, Storage][] = [['f32', 'f32'], ['bf16', 'f32'], ['bf16', 'bf16'], ['f32', 'bf16']];
const TINY = [[1, 1], [1, 3], [2, 1]];
const ODD = [[3, 17], [17, 129], [129, 17], [5, 1031], [130, 64]];
// Large (>= 2^15 elements: the CPU's row threads) on every other (storage, variant) pair, each
// variant and each pair meeting it twice, so the file stays fast; the others take a second odd
// shape with more rows than the 64 gradient blocks.
const LARGE = [[130, 257], [67, 521]];
const MEDIUM = [[65, 67], [97, 31]];
let k = 0;
for (const [dtype, paramType] of DTYPES) {
  for (const v of VARIANTS) {
    for (const [rows, dim] of [TINY[k % TINY.length]!, ODD[k % ODD.length]!, (k + Math.floor(k / 4)) % 2 === 0 ? LARGE[Math.floor(k / 2) % LARGE.length]! : MEDIUM[Math.floor(k / 2) % MEDIUM.length]!]) {
      cases.push(makeCase({ dtype, paramType, rows: rows!, dim: dim!, ...v, stats: 'both', eps: 1e-5, seed: seed++ }));
    }
    k++;
  }
}

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

// Row layouts (test/kernels/layer-norm-layout.test.ts's sizes): the QK-norm shape (B*T*H = 30 rows
// of Dh = 8 in groups of H = 3, 3*8 + 13 apart), odd sizes, one row per group, a gapless grouped
// layout, one large enough for every thread, and on CUDA the block-per-row path (dim > 512).
const SIZES: { rows: number; dim: number; x: Layout; other: Layout }[] = [
  { rows: 30, dim: 8, x: { groupRows: 3, groupStride: 3 * 8 + 13 }, other: { groupRows: 5, groupStride: 5 * 8 + 3 } },
  { rows: 129, dim: 17, x: { groupRows: 43, groupStride: 43 * 17 + 1 }, other: { groupRows: 3, groupStride: 3 * 17 + 30 } },
  { rows: 17, dim: 1, x: { groupRows: 1, groupStride: 3 }, other: { groupRows: 17, groupStride: 17 } },
  { rows: 9, dim: 129, x: { groupRows: 3, groupStride: 3 * 129 }, other: { groupRows: 1, groupStride: 129 + 7 } },
  { rows: 3, dim: 3, x: { groupRows: 3, groupStride: 9 }, other: { groupRows: 1, groupStride: 4 } },
  { rows: 1026, dim: 33, x: { groupRows: 3, groupStride: 3 * 33 + 13 }, other: { groupRows: 6, groupStride: 6 * 33 + 1 } },
  { rows: 12, dim: 768, x: { groupRows: 4, groupStride: 4 * 768 + 100 }, other: { groupRows: 3, groupStride: 3 * 768 + 1 } },
];
const LAYOUT_VARIANTS: { dtype: Storage; paramType: Storage; center: boolean; bias: boolean }[] = [
  { dtype: 'f32', paramType: 'f32', center: true, bias: true },
  { dtype: 'f32', paramType: 'f32', center: false, bias: false },
  { dtype: 'bf16', paramType: 'f32', center: false, bias: false },
  { dtype: 'bf16', paramType: 'bf16', center: true, bias: true },
];
for (const v of LAYOUT_VARIANTS) {
  for (const s of SIZES) {
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
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, stats: 'both', eps: 1e-5, xLayout: SIZES[0]!.x, layoutText: 'grouped x', seed: seed++ }));
cases.push(makeCase({ dtype: 'f32', paramType: 'f32', rows: 30, dim: 8, center: false, bias: false, stats: 'both', eps: 1e-5, yLayout: SIZES[0]!.x, layoutText: 'grouped y', seed: seed++ }));
cases.push(makeCase({
  dtype: 'bf16', paramType: 'f32', rows: 30, dim: 8, center: true, bias: false, stats: 'both', eps: 1e-5,
  xLayout: { groupRows: 0, groupStride: 999 }, yLayout: { groupRows: 0, groupStride: 0 }, layoutText: 'explicit groupRows 0', seed: seed++,
}));

const layerNormFwd: KernelCases = { kernel: 'layer_norm_fwd', cases };
export default layerNormFwd;
