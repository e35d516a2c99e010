/**
 * What layer_norm_fwd and layer_norm_bwd share: RowLayout operands (lib/kernels/records.ts; rows in
 * groups of groupRows, groupStride apart) and dense copies of them, the inputs (x rows around a
 * random offset, non-zero parameters), the rounding units of the bounds, the names, and the shape
 * lists both files run. Bundled into dist/kernel-checks.cjs: imports only test/cases/ modules.
 */
import { rng } from '../case-kit';

export type Storage = 'f32' | 'bf16';

/** f32's unit roundoff (2^-23, as the bounds of test/kernels/layer-norm.test.ts count it). */
export const U = 2 ** -23;
/** One bf16 rounding, relative. */
export const BF = 2 ** -8;
/** Elements after each laid-out operand's extent: a write past the last row shows up there. */
export const PAD = 7;

/** A RowLayout: undefined or groupRows 0 is dense. */
export interface Layout {
  groupRows: number;
  groupStride: number;
}

/** First element of row r. */
function rowStart(l: Layout | undefined, dim: number, r: number): number {
  if (!l || l.groupRows === 0) return r * dim;
  return Math.floor(r / l.groupRows) * l.groupStride + (r % l.groupRows) * dim;
}

/** Elements a [rows, dim] operand spans under l. */
export function extent(l: Layout | undefined, rows: number, dim: number): number {
  if (!l || l.groupRows === 0) return rows * dim;
  return rows === 0 ? 0 : (rows / l.groupRows - 1) * l.groupStride + l.groupRows * dim;
}

/** The rows of a laid-out buffer, dense. */
export function gather(buf: ArrayLike<number>, l: Layout | undefined, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = rowStart(l, dim, r);
    for (let j = 0; j < dim; j++) out[r * dim + j] = buf[s + j]!;
  }
  return out;
}

/** Dense rows written into `into` (a copy of the buffer's initial contents) at the layout's places. */
export function scatterInto(into: Float64Array, dense: ArrayLike<number>, l: Layout | undefined, rows: number, dim: number): Float64Array {
  for (let r = 0; r < rows; r++) {
    const s = rowStart(l, dim, r);
    for (let j = 0; j < dim; j++) into[s + j] = dense[r * dim + j]!;
  }
  return into;
}

/** Whether element i of an operand laid out by l is in one of its rows. */
export function inRows(l: Layout | undefined, rows: number, dim: number, i: number): boolean {
  if (!l || l.groupRows === 0) return i < rows * dim;
  const g = Math.floor(i / l.groupStride);
  return g < rows / l.groupRows && i - g * l.groupStride < l.groupRows * dim;
}

/** Whether two layouts place rows alike (both dense, or the same groups). */
export function sameLayout(a: Layout | undefined, b: Layout | undefined): boolean {
  const ga = a?.groupRows ?? 0, gb = b?.groupRows ?? 0;
  return ga === gb && (ga === 0 || a!.groupStride === b!.groupStride);
}

/** n values sign * [lo, hi) from `seed`: never zero. */
export function nonZero(n: number, seed: number, lo: number, hi: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());
  return out;
}

/** x [rows, dim]: rows around a random offset in [-8, 8), so that centering matters. */
export function normInput(rows: number, dim: number, seed: number): Float64Array {
  const x = nonZero(rows * dim, seed, 0.05, 2);
  const r = rng(seed + 7919);
  for (let i = 0; i < rows; i++) {
    const offset = (r() - 0.5) * 16;
    for (let j = 0; j < dim; j++) x[i * dim + j] = x[i * dim + j]! + offset;
  }
  return x;
}

/** 'LayerNorm' or 'RMSNorm', '+bias' with a bias. */
export const normName = (center: boolean, bias: boolean): string => `${center ? 'LayerNorm' : 'RMSNorm'}${bias ? '+bias' : ''}`;

/** The storage coverage key: the storage, and the parameters' where they differ. */
export const dtypeKey = (dtype: Storage, paramType: Storage): string => (paramType === dtype ? dtype : `${dtype}, ${paramType} params`);

/** A norm variant and its storages. */
export interface Variant {
  dtype: Storage;
  paramType: Storage;
  center: boolean;
  bias: boolean;
}

/** Every storage / parameter pair the dense cases run. */
export const DTYPES: [Storage, Storage][] = [['f32', 'f32'], ['bf16', 'f32'], ['bf16', 'bf16'], ['f32', 'bf16']];

/** The norm variants of the dense cases. */
export const NORM_VARIANTS = [
  { center: true, bias: true },
  { center: true, bias: false },
  { center: false, bias: false }, // the ViT-22B norm
  { center: false, bias: true },
];

/**
 * The dense cases' variants and shapes: every norm variant with every storage / parameter pair,
 * each with a tiny shape, an odd one (dim 1031 > 512: CUDA's block-per-row path) and a larger one:
 * large (>= 2^15 elements: the CPU's row threads) on every other (storage, variant) pair, each
 * variant and each pair meeting it twice, so the files stay fast; the others a second odd shape
 * with more rows than the 64 gradient blocks. D = 1 centers every element to 0.
 */
export function denseShapes(): (Variant & { rows: number; dim: number })[] {
  const TINY = [[1, 1], [1, 3], [2, 1]];
  const ODD = [[3, 17], [17, 129], [129, 17], [5, 1031], [130, 64]];
  const LARGE = [[130, 257], [67, 521]];
  const MEDIUM = [[65, 67], [97, 31]];
  const out: (Variant & { rows: number; dim: number })[] = [];
  let k = 0;
  for (const [dtype, paramType] of DTYPES) {
    for (const v of NORM_VARIANTS) {
      for (const [rows, dim] of [TINY[k % TINY.length]!, ODD[k % ODD.length]!, (k + Math.floor(k / 4)) % 2 === 0 ? LARGE[Math.floor(k / 2) % LARGE.length]! : MEDIUM[Math.floor(k / 2) % MEDIUM.length]!]) {
        out.push({ dtype, paramType, ...v, rows: rows!, dim: dim! });
      }
      k++;
    }
  }
  return out;
}

/**
 * Row layouts (test/kernels/layer-norm-layout.test.ts's sizes): the QK-norm shape (B*T*H = 30 rows
 * of Dh = 8 in groups of H = 3, 3*8 + 13 apart), odd sizes, one row per group, a gapless grouped
 * layout, one large enough for every thread and more rows than the gradient blocks, and on CUDA
 * the block-per-row path (dim > 512). `x` and `other` are the two layouts each case assigns.
 */
export const LAYOUT_SIZES: { rows: number; dim: number; x: Layout; other: Layout }[] = [
  { rows: 30, dim: 8, x: { groupRows: 3, groupStride: 3 * 8 + 13 }, other: { groupRows: 5, groupStride: 5 * 8 + 3 } },
  { rows: 129, dim: 17, x: { groupRows: 43, groupStride: 43 * 17 + 1 }, other: { groupRows: 3, groupStride: 3 * 17 + 30 } },
  { rows: 17, dim: 1, x: { groupRows: 1, groupStride: 3 }, other: { groupRows: 17, groupStride: 17 } },
  { rows: 9, dim: 129, x: { groupRows: 3, groupStride: 3 * 129 }, other: { groupRows: 1, groupStride: 129 + 7 } },
  { rows: 3, dim: 3, x: { groupRows: 3, groupStride: 9 }, other: { groupRows: 1, groupStride: 4 } },
  { rows: 1026, dim: 33, x: { groupRows: 3, groupStride: 3 * 33 + 13 }, other: { groupRows: 6, groupStride: 6 * 33 + 1 } },
  { rows: 12, dim: 768, x: { groupRows: 4, groupStride: 4 * 768 + 100 }, other: { groupRows: 3, groupStride: 3 * 768 + 1 } },
];

/** The variants the layout cases run. */
export const LAYOUT_VARIANTS: Variant[] = [
  { dtype: 'f32', paramType: 'f32', center: true, bias: true },
  { dtype: 'f32', paramType: 'f32', center: false, bias: false },
  { dtype: 'bf16', paramType: 'f32', center: false, bias: false },
  { dtype: 'bf16', paramType: 'bf16', center: true, bias: true },
];
