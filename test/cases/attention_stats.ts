// attention_stats (lib/kernels/attention_stats.ts AttentionStatsArgs), the QK-norm monitoring statistics:
//   s_ij = scale Q[b, i, h] . K[b, j, h],  p_i = softmax_j(s_i)
//   out[0] = max over (b, h, i, j) of s_ij;  out[1] = mean over (b, h, i) of -sum_j p_ij log p_ij
// Q and K f32 or bf16 views { buffer, offset, batchStride, tokenStride, headStride }; out f32 [2].
// Ported from test/kernels/attention-stats.test.ts (and the former test/gpu/monitor-checks.cjs, which this file replaces): dense
// operands, Q and K windows of one fused [B, T, 3D] projection buffer, the MAP head's one query
// against K in a [B, Tk, 2D + F] buffer, gaps between heads, tokens and batches, heads-major
// storage, large logits (entropy near 0), and uniform attention (every key equal: entropy
// exactly log Tk). Input elements outside the views are NaN: a read there would show in out.
//
// Tolerance (attention-stats.test.ts, and the former monitor-checks.cjs for CUDA against the CPU): the max
// logit is one f32 dot product over Dh terms of magnitude <= ~1, the entropy is summed in double
// from f32 logits, so |err| <= 1e-5 (1 + |ref|) for both.
import { rng } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';
import { attnDims, elementAt, seedOffset, viewMaker, viewSpec } from './shared/attention';
import type { AttnDims, AttnShapeDims, Storage, View } from './shared/attention';

type Kind = 'dense' | 'fused' | 'map' | 'strided' | 'heads-major' | 'uniform keys';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const max = Math.max;
const exp = Math.exp;
const log = Math.log;

function layoutOf(kind: Kind, d: AttnDims, F: number): { sizes: Record<string, number>; q: View; k: View } {
  const { heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const D = H * Dh;
  const { sizes, rows, headsMajor, strided } = viewMaker(d);
  if (kind === 'dense' || kind === 'uniform keys') return { sizes, q: rows('q', Tq, D, 0), k: rows('k', Tk, D, 0) };
  if (kind === 'fused') {
    if (Tq !== Tk) throw new Error('the fused layout needs tq == tk');
    return { sizes, q: rows('qkv', Tq, 3 * D, 0), k: rows('qkv', Tq, 3 * D, D) };
  }
  if (kind === 'map') return { sizes, q: rows('probe', Tq, D, 0), k: rows('kv', Tk, 2 * D + F, 0) };
  if (kind === 'heads-major') return { sizes, q: headsMajor('q', Tq), k: headsMajor('k', Tk) };
  return { sizes, q: strided('q', Tq, 0), k: strided('k', Tk, 1) };
}

/** [max logit, mean entropy] in float64, from the definition; p = 0 (underflow) adds nothing. */
function statsRef(d: AttnDims, q: Float64Array, qv: View, k: Float64Array, kv: View, scale: number): [number, number] {
  let best = -Infinity;
  let entropy = 0;
  const s = new Float64Array(d.tk);
  for (let b = 0; b < d.batch; b++) {
    for (let h = 0; h < d.heads; h++) {
      for (let i = 0; i < d.tq; i++) {
        const qi = elementAt(qv, b, i, h);
        let m = -Infinity;
        for (let j = 0; j < d.tk; j++) {
          const kj = elementAt(kv, b, j, h);
          let dot = 0;
          for (let x = 0; x < d.headDim; x++) dot += q[qi + x]! * k[kj + x]!;
          s[j] = scale * dot;
          m = max(m, s[j]!);
        }
        let z = 0;
        for (let j = 0; j < d.tk; j++) z += exp(s[j]! - m);
        let row = 0;
        for (let j = 0; j < d.tk; j++) {
          const p = exp(s[j]! - m) / z;
          if (p > 0) row -= p * log(p);
        }
        entropy += row;
        best = max(best, m);
      }
    }
  }
  return [best, entropy / (d.batch * d.heads * d.tq)];
}

interface Shape {
  dtype: Storage;
  kind: Kind;
  dims: AttnShapeDims;
  /** Inputs uniform in (-amp, amp) (attention-stats.test.ts: 2, logits of a few units). */
  amp?: number;
  scale?: number;
  seed: number;
}

function statsCase(s: Shape): KernelCase {
  const { d, scale } = attnDims(s.dims, s.scale);
  const { batch, heads, tq, tk, headDim } = d;
  const dtype = s.dtype;
  const lay = layoutOf(s.kind, d, 5);
  const amp = s.amp ?? 2;
  const r = rng(s.seed);
  const data: Record<string, Float64Array> = {};
  for (const [name, size] of Object.entries(lay.sizes)) data[name] = new Float64Array(size).fill(Number.NaN);
  const fill = (v: View, value: () => number): void => {
    const arr = data[v.buf]!;
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < v.tokens; t++)
        for (let h = 0; h < heads; h++) {
          const base = elementAt(v, b, t, h);
          for (let x = 0; x < headDim; x++) arr[base + x] = value();
        }
  };
  const random = (): number => (2 * r() - 1) * amp || 0.5;
  fill(lay.q, random);
  // Uniform keys: every key the same, so every row's logits are equal and p is uniform.
  fill(lay.k, s.kind === 'uniform keys' ? () => 0.25 : random);

  const buffers: KernelCase['buffers'] = {};
  for (const [name, arr] of Object.entries(data)) buffers[name] = { dtype, size: arr.length, role: 'in', data: arr };
  buffers.out = { dtype: 'f32', size: 2, role: 'out' };
  const tolerance = { abs: 1e-5, rel: 1e-5 };
  return {
    name: `${dtype} ${s.kind} [${s.dims.join(', ')}]${s.amp !== undefined || s.scale !== undefined ? ` amp ${amp} scale ${scale}` : ''}`,
    dtype,
    layout: s.kind,
    buffers,
    spec: (h) => ({ dtype, batch, heads, tq, tk, headDim, scale, q: viewSpec(h, lay.q), k: viewSpec(h, lay.k), out: h.out }),
    reference: (init) => ({ out: statsRef(d, init[lay.q.buf]!, lay.q, init[lay.k.buf]!, lay.k, scale) }),
    tolerance,
    gpuTolerance: tolerance,
  };
}

// [batch, heads, tq, tk, headDim]: attention-stats.test.ts's shapes, and the former monitor-checks.cjs's
// (the tiny model's 49 tokens, the MAP head's one query, an odd size).
const SHAPES: AttnShapeDims[] = [
  [1, 1, 1, 1, 1],
  [2, 3, 17, 17, 16],
  [3, 2, 1, 49, 32],
  [1, 4, 50, 33, 7],
  [2, 4, 49, 49, 16],
  [1, 3, 17, 129, 64],
];

const shapes: Shape[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  const off = seedOffset(dtype);
  SHAPES.forEach((dims, i) => shapes.push({ dtype, kind: 'dense', dims, seed: 100 + i + off }));
  shapes.push({ dtype, kind: 'fused', dims: [2, 4, 9, 9, 8], amp: 1.5, seed: 7 + off });
  shapes.push({ dtype, kind: 'map', dims: [3, 2, 1, 49, 24], seed: 8 + off });
  shapes.push({ dtype, kind: 'strided', dims: [2, 3, 11, 13, 9], seed: 9 + off });
  shapes.push({ dtype, kind: 'heads-major', dims: [2, 2, 7, 19, 12], seed: 10 + off });
  shapes.push({ dtype, kind: 'uniform keys', dims: [1, 2, 3, 10, 4], amp: 1, seed: 3 + off });
  // Large logits: the row softmax is nearly one-hot (entropy near 0; p underflows to 0).
  shapes.push({ dtype, kind: 'dense', dims: [1, 2, 9, 40, 32], amp: 3, scale: 1, seed: 11 + off });
}

const attentionStats: KernelCases = { kernel: 'attention_stats', cases: shapes.map(statsCase) };
export default attentionStats;
