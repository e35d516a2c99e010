// attention_fwd (lib/kernels/attention_fwd.ts AttentionFwdArgs): O[b, i, h] = softmax_j(scale Q[b, i, h] .
// K[b, j, h]) V[b, j, h] and L[b, h, i] = log sum_j exp(scale Q . K) (f32), Q, K, V, O of one
// storage type (f32 or bf16, math in f32, O rounded once), every operand a strided view
// { buffer, offset, batchStride, tokenStride, headStride } (lib/kernels/attention_fwd.ts).
// Ported from test/kernels/attention.test.ts (and the layouts of test/gpu/attention-checks.cjs):
//   dense        every operand its own [B, T, H, Dh] buffer;
//   fused        Q, K, V column windows of one [B, T, 3D + F] buffer (the fused projection), O a
//                window at column 1 of a wider [B, T, D + 3] buffer;
//   map          the MAP head: Tq != Tk (a few queries from a probe [B, Tq, D]), K and V windows of
//                one [B, Tk, 2D + F] buffer;
//   strided      heads and tokens with gaps between them, batches apart, views at an offset;
//   heads-major  Q, K, V in [B, H, T, Dh] storage (tokenStride Dh, headStride T Dh).
// Input elements outside the views are NaN (a read there poisons O); O's gaps keep the runner's
// poison. Shapes: single keys and queries, the MAP head's probes (Tq 1 and 3), sizes one past a
// 64-block, odd head dims (padding to 16 columns), the largest head dim (256), large logits.
//
// CPU tolerance (attention.test.ts's bound), per element of O with scale_o = sum_j P_ij |v_jd|
// (the float64 reference's sum of absolute terms):
//   f32:  2e-5 scale_o + 1e-6   (f32 dot products over Dh <= 256 and a ~1e-7 exp)
//   bf16: 2^-8 (|ref| + scale_o) + 1e-6   (one rounding of O to bf16; bf16 inputs are exact in f32)
//   lse:  2e-5 (1 + |lse|)   (f32 in both storages)
// turned into one { abs, rel } per output that still meets every element's bound (fitTolerance).
// GPU tolerance (CUDA against the CPU, attention-checks.cjs), M the largest |O| of the case:
//   f32 2e-4 M + 1e-6 (f32 sums in another order); bf16 2^-7 |cpu| + 2^-7 M + 1e-6 on the tensor
//   cores (Dh <= 128: P rounded to bf16 before P V), 2^-9 M on the CUDA cores (Dh > 128); lse
//   2e-5 (1 + |cpu|).
import { copyOf, rng, roundTo } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import type { AttnDims } from '../helpers/attention-reference';

type Storage = 'f32' | 'bf16';
type Kind = 'dense' | 'fused' | 'map' | 'strided' | 'heads-major';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow (the
// same reason this file has its own copy of the float64 forward of attention-reference.ts).
const abs = Math.abs;
const max = Math.max;
const exp = Math.exp;
const log = Math.log;

/**
 * Attention in float64 on dense [B, T, H, Dh] arrays, from the definition: o, lse [B, H, Tq], and
 * per element of o the sum of absolute terms sum_j P_ij |v_jd| (the rounding-error scale).
 */
function forwardRef(d: AttnDims, q: Float64Array, k: Float64Array, v: Float64Array, scale: number) {
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
interface View {
  buf: string;
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
  tokens: number;
}

interface Layout {
  sizes: Record<string, number>;
  views: Record<'q' | 'k' | 'v' | 'o', View>;
}

/** F: the extra (MLP) columns of a fused buffer, which no view covers. */
function layoutOf(kind: Kind, d: AttnDims, F: number): Layout {
  const { batch: B, heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const D = H * Dh;
  const sizes: Record<string, number> = {};
  // A [B, T, W] buffer and a view at column `col` of it.
  const rowsBuf = (name: string, T: number, W: number): void => {
    sizes[name] = B * T * W;
  };
  const at = (buf: string, T: number, W: number, col: number): View =>
    ({ buf, offset: col, batchStride: T * W, tokenStride: W, headStride: Dh, tokens: T });
  if (kind === 'dense') {
    for (const [n, T] of [['q', Tq], ['k', Tk], ['v', Tk], ['o', Tq]] as [string, number][]) rowsBuf(n, T, D);
    return { sizes, views: { q: at('q', Tq, D, 0), k: at('k', Tk, D, 0), v: at('v', Tk, D, 0), o: at('o', Tq, D, 0) } };
  }
  if (kind === 'fused') {
    if (Tq !== Tk) throw new Error('the fused layout needs tq == tk');
    rowsBuf('qkv', Tq, 3 * D + F);
    rowsBuf('o', Tq, D + 3);
    const W = 3 * D + F;
    return { sizes, views: { q: at('qkv', Tq, W, 0), k: at('qkv', Tq, W, D), v: at('qkv', Tq, W, 2 * D), o: at('o', Tq, D + 3, 1) } };
  }
  if (kind === 'map') {
    rowsBuf('probe', Tq, D);
    rowsBuf('kv', Tk, 2 * D + F);
    rowsBuf('o', Tq, D);
    const W = 2 * D + F;
    return { sizes, views: { q: at('probe', Tq, D, 0), k: at('kv', Tk, W, 0), v: at('kv', Tk, W, D), o: at('o', Tq, D, 0) } };
  }
  if (kind === 'heads-major') {
    // Inputs only: an output's tokens must not interleave (the binding refuses it), so O is dense.
    const hm = (buf: string, T: number): View => ({ buf, offset: 0, batchStride: H * T * Dh, tokenStride: Dh, headStride: T * Dh, tokens: T });
    for (const [n, T] of [['q', Tq], ['k', Tk], ['v', Tk]] as [string, number][]) sizes[n] = B * H * T * Dh;
    rowsBuf('o', Tq, D);
    return { sizes, views: { q: hm('q', Tq), k: hm('k', Tk), v: hm('v', Tk), o: at('o', Tq, D, 0) } };
  }
  // strided: two spare elements after each head, one after each token, three after each batch,
  // the view starting at element 2; each operand with its own gaps.
  const st = (buf: string, T: number, extra: number): View => {
    const headStride = Dh + 2 + extra;
    const tokenStride = H * headStride + 1;
    const batchStride = T * tokenStride + 3;
    sizes[buf] = 2 + (B - 1) * batchStride + (T - 1) * tokenStride + (H - 1) * headStride + Dh + 4;
    return { buf, offset: 2, batchStride, tokenStride, headStride, tokens: T };
  };
  return { sizes, views: { q: st('q', Tq, 0), k: st('k', Tk, 1), v: st('v', Tk, 2), o: st('o', Tq, 3) } };
}

/** A view's elements as a dense [B, T, H, Dh] array. */
function gather(data: ArrayLike<number>, v: View, d: AttnDims): Float64Array {
  const out = new Float64Array(d.batch * v.tokens * d.heads * d.headDim);
  let n = 0;
  for (let b = 0; b < d.batch; b++)
    for (let t = 0; t < v.tokens; t++)
      for (let h = 0; h < d.heads; h++) {
        const base = v.offset + b * v.batchStride + t * v.tokenStride + h * v.headStride;
        for (let x = 0; x < d.headDim; x++) out[n++] = data[base + x]!;
      }
  return out;
}

/** Writes a dense [B, T, H, Dh] array into a view of `target`. */
function scatter(target: Float64Array, v: View, d: AttnDims, dense: ArrayLike<number>): void {
  let n = 0;
  for (let b = 0; b < d.batch; b++)
    for (let t = 0; t < v.tokens; t++)
      for (let h = 0; h < d.heads; h++) {
        const base = v.offset + b * v.batchStride + t * v.tokenStride + h * v.headStride;
        for (let x = 0; x < d.headDim; x++) target[base + x] = dense[n++]!;
      }
}

/**
 * { abs, rel } with abs + rel |ref_i| >= bound_i for every i: for each candidate rel the least
 * such abs, and of those the pair that allows the least in total.
 */
function fitTolerance(bound: ArrayLike<number>, ref: ArrayLike<number>, rels: number[]): Tolerance {
  let best: Tolerance | undefined;
  let bestTotal = Infinity;
  for (const rel of rels) {
    let a = 0;
    let total = 0;
    for (let i = 0; i < bound.length; i++) {
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

interface Shape {
  dtype: Storage;
  kind: Kind;
  dims: [number, number, number, number, number]; // batch, heads, tq, tk, headDim
  /** Inputs uniform in +-[lo, hi); scale 1 / sqrt(Dh) unless given. */
  lo?: number;
  hi?: number;
  scale?: number;
  F?: number;
  seed: number;
}

function attentionFwdCase(s: Shape): KernelCase {
  const [batch, heads, tq, tk, headDim] = s.dims;
  const d: AttnDims = { batch, heads, tq, tk, headDim };
  const dtype = s.dtype;
  const scale = s.scale ?? 1 / Math.sqrt(headDim);
  const F = s.F ?? 5;
  const lay = layoutOf(s.kind, d, F);
  const views = lay.views;
  const lseSize = batch * heads * tq;

  // Inputs: NaN outside the views, +-[lo, hi) inside.
  const r = rng(s.seed);
  const lo = s.lo ?? 0.1;
  const hi = s.hi ?? 1;
  const inputBufs = [...new Set([views.q.buf, views.k.buf, views.v.buf])];
  const data: Record<string, Float64Array> = {};
  for (const name of inputBufs) {
    const arr = new Float64Array(lay.sizes[name]!).fill(Number.NaN);
    for (const op of ['q', 'k', 'v'] as const) {
      if (views[op].buf !== name) continue;
      const dense = Float64Array.from({ length: batch * views[op].tokens * heads * headDim }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
      scatter(arr, views[op], d, dense);
    }
    data[name] = arr;
  }
  const buffers: KernelCase['buffers'] = {};
  for (const name of inputBufs) buffers[name] = { dtype, size: data[name]!.length, role: 'in', data: data[name]! };
  buffers[views.o.buf] = { dtype, size: lay.sizes[views.o.buf]!, role: 'out' };
  buffers.lse = { dtype: 'f32', size: lseSize, role: 'out' };

  /** The reference O (whole buffer) and lse, and O's per-element CPU bound. */
  const evaluate = (init: Record<string, Float64Array>) => {
    const ref = forwardRef(d, gather(init[views.q.buf]!, views.q, d), gather(init[views.k.buf]!, views.k, d), gather(init[views.v.buf]!, views.v, d), scale);
    const o = copyOf(init[views.o.buf]!);
    scatter(o, views.o, d, ref.o);
    const bound = new Float64Array(ref.o.length);
    for (let i = 0; i < bound.length; i++) {
      bound[i] = (dtype === 'f32' ? 2e-5 * ref.oScale[i]! : 2 ** -8 * (abs(ref.o[i]!) + ref.oScale[i]!)) + 1e-6;
    }
    return { o, lse: ref.lse, denseO: ref.o, bound };
  };

  const own: Record<string, Float64Array> = {};
  for (const name of inputBufs) own[name] = roundTo(dtype, data[name]!);
  own[views.o.buf] = new Float64Array(lay.sizes[views.o.buf]!).fill(Number.NaN);
  let tolerances: { cpu: Record<string, Tolerance>; gpu: Record<string, Tolerance> } | undefined;
  const tolerancesOf = () => {
    if (!tolerances) {
      const { denseO, bound } = evaluate(own);
      const rels = dtype === 'f32' ? [0, 2e-5] : [2 ** -8, 2 ** -7];
      let M = 0;
      for (let i = 0; i < denseO.length; i++) M = max(M, abs(denseO[i]!));
      const lse = { abs: 2e-5, rel: 2e-5 };
      const gpuO = dtype === 'f32' ? { abs: 2e-4 * M + 1e-6, rel: 0 } : { abs: (headDim <= 128 ? 2 ** -7 : 2 ** -9) * M + 1e-6, rel: 2 ** -7 };
      tolerances = { cpu: { [views.o.buf]: fitTolerance(bound, denseO, rels), lse }, gpu: { [views.o.buf]: gpuO, lse } };
    }
    return tolerances;
  };

  const viewSpec = (h: Record<string, unknown>, v: View) =>
    ({ buffer: h[v.buf], offset: v.offset, batchStride: v.batchStride, tokenStride: v.tokenStride, headStride: v.headStride });
  const range = s.hi !== undefined || s.scale !== undefined ? ` +-[${lo}, ${hi}) scale ${scale}` : '';
  return {
    name: `${dtype} ${s.kind} [${s.dims.join(', ')}]${s.kind === 'fused' || s.kind === 'map' ? ` F ${F}` : ''}${range}`,
    dtype,
    layout: s.kind,
    buffers,
    spec: (h) => ({
      dtype, batch, heads, tq, tk, headDim, scale,
      q: viewSpec(h, views.q), k: viewSpec(h, views.k), v: viewSpec(h, views.v), o: viewSpec(h, views.o),
      lse: h.lse,
    }),
    reference: (init) => {
      const { o, lse } = evaluate(init);
      return { [views.o.buf]: o, lse };
    },
    get tolerance() {
      return tolerancesOf().cpu;
    },
    get gpuTolerance() {
      return tolerancesOf().gpu;
    },
  };
}

// [batch, heads, tq, tk, headDim]: attention.test.ts's shapes.
const SHAPES: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 1],
  [2, 3, 1, 17, 32],
  [2, 2, 3, 129, 64],
  [1, 2, 17, 3, 17],
  [2, 1, 129, 65, 64],
  [1, 1, 65, 130, 129],
  [1, 2, 5, 7, 256],
  [1, 3, 70, 70, 3],
];

const shapes: Shape[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  const off = dtype === 'bf16' ? 50 : 0;
  SHAPES.forEach((dims, i) => shapes.push({ dtype, kind: 'dense', dims, seed: 100 + i + off }));
  // Large logits (|s| up to ~200): the running max must be subtracted.
  shapes.push({ dtype, kind: 'dense', dims: [1, 2, 33, 150, 64], lo: 0.125, hi: 4, scale: 1, seed: 7 + off });
  // More heads and queries than threads (the child-process shape of attention.test.ts).
  shapes.push({ dtype, kind: 'dense', dims: [1, 3, 150, 140, 64], seed: 31 + off });
  // The fused projection: attention.test.ts's B 2, T 19, H 3, Dh 32, F 40, and odd head dims.
  shapes.push({ dtype, kind: 'fused', dims: [2, 3, 19, 19, 32], F: 40, seed: 77 + off });
  shapes.push({ dtype, kind: 'fused', dims: [1, 2, 23, 23, 17], F: 5, seed: 78 + off });
  // The MAP head: one and three probes against 49 and 17 keys.
  shapes.push({ dtype, kind: 'map', dims: [3, 4, 1, 49, 16], F: 5, seed: 79 + off });
  shapes.push({ dtype, kind: 'map', dims: [2, 3, 3, 17, 24], F: 7, seed: 80 + off });
  // No queries (test/gpu/attention-checks.cjs's MAP shape with Tq 0): the kernel writes nothing (O and L are empty).
  shapes.push({ dtype, kind: 'map', dims: [1, 2, 0, 5, 32], F: 5, seed: 84 + off });
  // Gaps between heads, tokens and batches; heads-major storage.
  shapes.push({ dtype, kind: 'strided', dims: [2, 3, 13, 11, 9], seed: 81 + off });
  shapes.push({ dtype, kind: 'strided', dims: [1, 2, 66, 9, 65], seed: 82 + off });
  shapes.push({ dtype, kind: 'heads-major', dims: [2, 2, 7, 33, 20], seed: 83 + off });
}

const attentionFwd: KernelCases = { kernel: 'attention_fwd', cases: shapes.map(attentionFwdCase) };
export default attentionFwd;
