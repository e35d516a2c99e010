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
import { ATTENTION_SHAPES, elementBound, forwardOfViews, layoutShapes, outputTolerances, scatter, seedOffset, shapeParts, signedDraw, viewMaker, viewSpec } from './shared/attention';
import type { AttnDims, AttnKind, AttnShape, Storage, View } from './shared/attention';
import { withLazyTolerances } from './shared/tolerance';

interface Layout {
  sizes: Record<string, number>;
  views: Record<'q' | 'k' | 'v' | 'o', View>;
}

/** F: the extra (MLP) columns of a fused buffer, which no view covers. */
function layoutOf(kind: AttnKind, d: AttnDims, F: number): Layout {
  const { heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const D = H * Dh;
  const { sizes, rows, headsMajor, strided } = viewMaker(d);
  if (kind === 'dense') {
    return { sizes, views: { q: rows('q', Tq, D, 0), k: rows('k', Tk, D, 0), v: rows('v', Tk, D, 0), o: rows('o', Tq, D, 0) } };
  }
  if (kind === 'fused') {
    if (Tq !== Tk) throw new Error('the fused layout needs tq == tk');
    const W = 3 * D + F;
    return { sizes, views: { q: rows('qkv', Tq, W, 0), k: rows('qkv', Tq, W, D), v: rows('qkv', Tq, W, 2 * D), o: rows('o', Tq, D + 3, 1) } };
  }
  if (kind === 'map') {
    const W = 2 * D + F;
    return { sizes, views: { q: rows('probe', Tq, D, 0), k: rows('kv', Tk, W, 0), v: rows('kv', Tk, W, D), o: rows('o', Tq, D, 0) } };
  }
  if (kind === 'heads-major') {
    // Inputs only: an output's tokens must not interleave (the binding refuses it), so O is dense.
    return { sizes, views: { q: headsMajor('q', Tq), k: headsMajor('k', Tk), v: headsMajor('v', Tk), o: rows('o', Tq, D, 0) } };
  }
  // strided: spare elements after each head, token and batch, each operand with its own gaps.
  return { sizes, views: { q: strided('q', Tq, 0), k: strided('k', Tk, 1), v: strided('v', Tk, 2), o: strided('o', Tq, 3) } };
}

function attentionFwdCase(s: AttnShape): KernelCase {
  const { d, scale, lo, hi, keys, lay, lseSize, scalars } = shapeParts(s, layoutOf);
  const { batch, heads, headDim } = d;
  const dtype = s.dtype;
  const views = lay.views;

  // Inputs: NaN outside the views, +-[lo, hi) inside.
  const r = rng(s.seed);
  const inputBufs = [...new Set([views.q.buf, views.k.buf, views.v.buf])];
  const data: Record<string, Float64Array> = {};
  for (const name of inputBufs) {
    const arr = new Float64Array(lay.sizes[name]!).fill(Number.NaN);
    for (const op of ['q', 'k', 'v'] as const) {
      if (views[op].buf !== name) continue;
      const dense = Float64Array.from({ length: batch * views[op].tokens * heads * headDim }, () => signedDraw(r, lo, hi));
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
    const ref = forwardOfViews(d, init, views, scale);
    const o = copyOf(init[views.o.buf]!);
    scatter(o, views.o, d, ref.o);
    const bound = new Float64Array(ref.o.length);
    for (let i = 0; i < bound.length; i++) bound[i] = elementBound(dtype, ref.o[i]!, ref.oScale[i]!);
    return { o, lse: ref.lse, denseO: ref.o, bound };
  };

  const own: Record<string, Float64Array> = {};
  for (const name of inputBufs) own[name] = roundTo(dtype, data[name]!);
  own[views.o.buf] = new Float64Array(lay.sizes[views.o.buf]!).fill(Number.NaN);
  const tolerances = (): { cpu: Record<string, Tolerance>; gpu: Record<string, Tolerance> } => {
    const { denseO, bound } = evaluate(own);
    const o = outputTolerances(dtype, headDim, bound, denseO);
    const lse = { abs: 2e-5, rel: 2e-5 };
    return { cpu: { [views.o.buf]: o.cpu, lse }, gpu: { [views.o.buf]: o.gpu, lse } };
  };

  return withLazyTolerances({
    ...keys,
    buffers,
    spec: (h) => ({
      ...scalars,
      q: viewSpec(h, views.q), k: viewSpec(h, views.k), v: viewSpec(h, views.v), o: viewSpec(h, views.o),
      lse: h.lse,
    }),
    reference: (init) => {
      const { o, lse } = evaluate(init);
      return { [views.o.buf]: o, lse };
    },
  }, tolerances);
}

const shapes: AttnShape[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  const off = seedOffset(dtype);
  ATTENTION_SHAPES.forEach((dims, i) => shapes.push({ dtype, kind: 'dense', dims, seed: 100 + i + off }));
  // Large logits (|s| up to ~200): the running max must be subtracted.
  shapes.push({ dtype, kind: 'dense', dims: [1, 2, 33, 150, 64], lo: 0.125, hi: 4, scale: 1, seed: 7 + off });
  // More heads and queries than threads (the child-process shape of attention.test.ts).
  shapes.push({ dtype, kind: 'dense', dims: [1, 3, 150, 140, 64], seed: 31 + off });
  // The fused projection (F 40 and 5), the MAP head (F 5 and 7), gaps, heads-major storage.
  shapes.push(...layoutShapes(dtype, 5, 7));
}

const attentionFwd: KernelCases = { kernel: 'attention_fwd', cases: shapes.map(attentionFwdCase) };
export default attentionFwd;
