/**
 * What the attention case files share (attention_fwd, attention_bwd, attention_stats): operands as
 * strided views { buffer, offset, batchStride, tokenStride, headStride } of the case's buffers and
 * the layouts that place them, dense [B, T, H, Dh] copies of a view, the float64 forward, the
 * per-element rounding bounds of an output and their GPU counterparts, and the forward / backward
 * shape list. Bundled into dist/kernel-checks.cjs: imports only types and test/cases/ modules.
 */
import type { Tolerance } from '../case-types';
import type { AttnDims } from '../../helpers/attention-reference';
import { fitTolerance, maxAbs } from './tolerance';

export type { AttnDims };
export type Storage = 'f32' | 'bf16';
/** [batch, heads, tq, tk, headDim]. */
export type AttnShapeDims = [number, number, number, number, number];

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow (the
// same reason this module has its own copy of the float64 forward of attention-reference.ts).
const abs = Math.abs;
const max = Math.max;
const exp = Math.exp;
const log = Math.log;

/** The dims of a [batch, heads, tq, tk, headDim] list, and the scale (1 / sqrt(Dh) unless given). */
export function attnDims(dims: AttnShapeDims, scale?: number): { d: AttnDims; scale: number } {
  const [batch, heads, tq, tk, headDim] = dims;
  return { d: { batch, heads, tq, tk, headDim }, scale: scale ?? 1 / Math.sqrt(headDim) };
}

/**
 * Attention in float64 on dense [B, T, H, Dh] arrays, from the definition: o, lse [B, H, Tq], and
 * per element of o the sum of absolute terms sum_j P_ij |v_jd| (the rounding-error scale).
 */
export function attentionForward(d: AttnDims, q: Float64Array, k: Float64Array, v: Float64Array, scale: number) {
  const { batch: B, heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const o = new Float64Array(B * Tq * H * Dh);
  const oScale = new Float64Array(o.length);
  const lse = new Float64Array(B * H * Tq);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qi = ((b * Tq + i) * H + h) * Dh;
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const kj = ((b * Tk + j) * H + h) * Dh;
          let dot = 0;
          for (let x = 0; x < Dh; x++) dot += q[qi + x]! * k[kj + x]!;
          s[j] = scale * dot;
          m = max(m, s[j]!);
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) sum += exp(s[j]! - m);
        lse[(b * H + h) * Tq + i] = m + log(sum);
        for (let j = 0; j < Tk; j++) {
          const p = exp(s[j]! - m) / sum;
          const vj = ((b * Tk + j) * H + h) * Dh;
          for (let x = 0; x < Dh; x++) {
            o[qi + x] = o[qi + x]! + p * v[vj + x]!;
            oScale[qi + x] = oScale[qi + x]! + p * abs(v[vj + x]!);
          }
        }
      }
    }
  }
  return { o, lse, oScale };
}

/** Where one [B, T, H, Dh] operand lives: a buffer of the case and its strides (elements). */
export interface View {
  buf: string;
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
  tokens: number;
}

/** The first element of (b, t, h) in a view. */
export const elementAt = (v: View, b: number, t: number, h: number): number =>
  v.offset + b * v.batchStride + t * v.tokenStride + h * v.headStride;

/**
 * Views of the layouts the attention cases use, each recording the size of its buffer in `sizes`
 * (in the order the views are made):
 *   rows(buf, T, W, col)  a window at column `col` of a token-major [B, T, W] buffer;
 *   headsMajor(buf, T)    [B, H, T, Dh] storage (tokenStride Dh, headStride T Dh);
 *   strided(buf, T, extra) 2 + extra spare elements after each head, one after each token, three
 *                          after each batch, the view starting at element 2 and 4 spare at the end.
 */
export function viewMaker(d: AttnDims) {
  const { batch: B, heads: H, headDim: Dh } = d;
  const sizes: Record<string, number> = {};
  return {
    sizes,
    rows(buf: string, T: number, W: number, col: number): View {
      sizes[buf] = B * T * W;
      return { buf, offset: col, batchStride: T * W, tokenStride: W, headStride: Dh, tokens: T };
    },
    headsMajor(buf: string, T: number): View {
      sizes[buf] = B * H * T * Dh;
      return { buf, offset: 0, batchStride: H * T * Dh, tokenStride: Dh, headStride: T * Dh, tokens: T };
    },
    strided(buf: string, T: number, extra: number): View {
      const headStride = Dh + 2 + extra;
      const tokenStride = H * headStride + 1;
      const batchStride = T * tokenStride + 3;
      sizes[buf] = 2 + (B - 1) * batchStride + (T - 1) * tokenStride + (H - 1) * headStride + Dh + 4;
      return { buf, offset: 2, batchStride, tokenStride, headStride, tokens: T };
    },
  };
}

/** A view's elements as a dense [B, T, H, Dh] array. */
export function gather(data: ArrayLike<number>, v: View, d: AttnDims): Float64Array {
  const out = new Float64Array(d.batch * v.tokens * d.heads * d.headDim);
  let n = 0;
  for (let b = 0; b < d.batch; b++)
    for (let t = 0; t < v.tokens; t++)
      for (let h = 0; h < d.heads; h++) {
        const base = elementAt(v, b, t, h);
        for (let x = 0; x < d.headDim; x++) out[n++] = data[base + x]!;
      }
  return out;
}

/** Writes a dense [B, T, H, Dh] array into a view of `target`. */
export function scatter(target: Float64Array, v: View, d: AttnDims, dense: ArrayLike<number>): void {
  let n = 0;
  for (let b = 0; b < d.batch; b++)
    for (let t = 0; t < v.tokens; t++)
      for (let h = 0; h < d.heads; h++) {
        const base = elementAt(v, b, t, h);
        for (let x = 0; x < d.headDim; x++) target[base + x] = dense[n++]!;
      }
}

/** The launch spec's view of `v`, given the buffers' handles by name. */
export const viewSpec = (handles: Record<string, unknown>, v: View) =>
  ({ buffer: handles[v.buf], offset: v.offset, batchStride: v.batchStride, tokenStride: v.tokenStride, headStride: v.headStride });

/** An input value: a random sign, then a magnitude uniform in [lo, hi). */
export const signedDraw = (r: () => number, lo: number, hi: number): number => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r());

/**
 * The CPU bound of one output element (forward's O, backward's dQ, dK, dV) with `scale` its sum of
 * absolute terms: f32 2e-5 scale + 1e-6, bf16 2^-8 (|ref| + scale) + 1e-6 (one rounding of the output).
 */
export const elementBound = (dtype: Storage, ref: number, scale: number): number =>
  (dtype === 'f32' ? 2e-5 * scale : 2 ** -8 * (abs(ref) + scale)) + 1e-6;

/**
 * The tolerances of one output buffer from its elements' CPU bounds and reference values (gaps left
 * out): CPU, one { abs, rel } meeting every bound (fitTolerance); CUDA against the CPU, M the largest
 * |value|: f32 2e-4 M + 1e-6; bf16 2^-7 |cpu| + 2^-7 M + 1e-6 on the tensor cores (Dh <= 128),
 * 2^-9 M on the CUDA cores (Dh > 128).
 */
export function outputTolerances(dtype: Storage, headDim: number, bound: ArrayLike<number>, value: ArrayLike<number>): { cpu: Tolerance; gpu: Tolerance } {
  const cpu = fitTolerance(bound, value, dtype === 'f32' ? [0, 2e-5] : [2 ** -8, 2 ** -7]);
  const M = maxAbs(value);
  const gpu = dtype === 'f32' ? { abs: 2e-4 * M + 1e-6, rel: 0 } : { abs: (headDim <= 128 ? 2 ** -7 : 2 ** -9) * M + 1e-6, rel: 2 ** -7 };
  return { cpu, gpu };
}

/** The layouts of the forward's and backward's cases (see their headers). */
export type AttnKind = 'dense' | 'fused' | 'map' | 'strided' | 'heads-major';

/** A forward or backward case. */
export interface AttnShape {
  dtype: Storage;
  kind: AttnKind;
  dims: AttnShapeDims;
  /** Inputs uniform in +-[lo, hi) (default [0.1, 1)); scale 1 / sqrt(Dh) unless given. */
  lo?: number;
  hi?: number;
  scale?: number;
  /** The extra (MLP) columns of a fused or map buffer, which no view covers (default 5). */
  F?: number;
  seed: number;
}

/**
 * A forward or backward case's dims, scale, input range, layout (the file's `layoutOf`, given the
 * extra columns F), the size of L, the scalars that open its launch spec, and `keys`: its name and
 * coverage keys.
 */
export function shapeParts<L>(s: AttnShape, layoutOf: (kind: AttnKind, d: AttnDims, F: number) => L) {
  const { d, scale } = attnDims(s.dims, s.scale);
  const F = s.F ?? 5;
  const lo = s.lo ?? 0.1;
  const hi = s.hi ?? 1;
  const range = s.hi !== undefined || s.scale !== undefined ? ` +-[${lo}, ${hi}) scale ${scale}` : '';
  const name = `${s.dtype} ${s.kind} [${s.dims.join(', ')}]${s.kind === 'fused' || s.kind === 'map' ? ` F ${F}` : ''}${range}`;
  const { batch, heads, tq, tk, headDim } = d;
  const scalars = { dtype: s.dtype, batch, heads, tq, tk, headDim, scale };
  const keys = { name, dtype: s.dtype, layout: s.kind };
  return { d, scale, lo, hi, keys, lay: layoutOf(s.kind, d, F), lseSize: batch * heads * tq, scalars };
}

/** The float64 forward of the q, k and v views of the buffers `x` (by name). */
export function forwardOfViews(d: AttnDims, x: Record<string, ArrayLike<number>>, views: Record<'q' | 'k' | 'v', View>, scale: number) {
  return attentionForward(d, gather(x[views.q.buf]!, views.q, d), gather(x[views.k.buf]!, views.k, d), gather(x[views.v.buf]!, views.v, d), scale);
}

/** [batch, heads, tq, tk, headDim]: attention.test.ts's shapes (the forward's and backward's). */
export const ATTENTION_SHAPES: AttnShapeDims[] = [
  [1, 1, 1, 1, 1],
  [2, 3, 1, 17, 32],
  [2, 2, 3, 129, 64],
  [1, 2, 17, 3, 17],
  [2, 1, 129, 65, 64],
  [1, 1, 65, 130, 129],
  [1, 2, 5, 7, 256],
  [1, 3, 70, 70, 3],
];

/** The seed offset of a storage's cases (every attention case file draws bf16 cases 50 seeds on). */
export const seedOffset = (dtype: Storage): number => (dtype === 'bf16' ? 50 : 0);

/**
 * The forward's and backward's layout cases, seeds 77-84 (+ seedOffset): fused projection windows
 * (attention.test.ts's B 2, T 19, H 3, Dh 32, F 40, and odd head dims), the MAP head (one and three
 * probes against 49 and 17 keys), no queries (test/gpu/attention-checks.cjs's MAP shape with Tq 0:
 * O and L are empty, the backward still writes dK = dV = 0), gaps between heads, tokens and batches,
 * heads-major storage. `fusedF` and `mapF` are the F of the second fused and map case each file
 * picks (the backward's F = 0 makes them gradient-checked).
 */
export function layoutShapes(dtype: Storage, fusedF: number, mapF: number): AttnShape[] {
  const off = seedOffset(dtype);
  return [
    { dtype, kind: 'fused', dims: [2, 3, 19, 19, 32], F: 40, seed: 77 + off },
    { dtype, kind: 'fused', dims: [1, 2, 23, 23, 17], F: fusedF, seed: 78 + off },
    { dtype, kind: 'map', dims: [3, 4, 1, 49, 16], F: 5, seed: 79 + off },
    { dtype, kind: 'map', dims: [2, 3, 3, 17, 24], F: mapF, seed: 80 + off },
    { dtype, kind: 'map', dims: [1, 2, 0, 5, 32], F: 5, seed: 84 + off },
    { dtype, kind: 'strided', dims: [2, 3, 13, 11, 9], seed: 81 + off },
    { dtype, kind: 'strided', dims: [1, 2, 66, 9, 65], seed: 82 + off },
    { dtype, kind: 'heads-major', dims: [2, 2, 7, 33, 20], seed: 83 + off },
  ];
}
