import { f, F32_MAX, kernel, type Check, type Field } from './declare';

/** Sizes, scale and their checks, shared by attention_fwd, attention_bwd and attention_stats. */
export const attentionSizes = {
  dtype: f.dtype(['f32', 'bf16'], 'of every [B, T, H, Dh] operand'),
  batch: f.count(),
  heads: f.count(),
  tq: f.count(),
  tk: f.count(),
  headDim: f.count(),
  scale: f.number({ lo: 0, hi: F32_MAX }, 'usually 1 / sqrt(headDim)', 1),
} satisfies Record<string, Field>;

export const attentionChecks: Check[] = [
  // Above 256 the tiles would leave L2; ViT-22B uses 128.
  { holds: 'headDim >= 1 && headDim <= 256', message: 'headDim is out of range', expected: '1 <= headDim <= 256', received: '${headDim}', example: () => ({ headDim: 257 }) },
  {
    holds: 'tk >= 1 || batch * heads * tq == 0',
    message: 'needs at least one key',
    expected: 'tk >= 1',
    received: '0',
    example: (s) => (s.batch * s.heads * s.tq > 0 ? { tk: 0 } : undefined),
  },
  { holds: 'scale > 0.0', message: 'scale must be a finite positive number', expected: 'a finite number > 0', received: '${scale}', example: () => ({ scale: 0 }) },
];

export default kernel({
  name: 'attention_fwd',
  fn: 'attentionFwd',
  struct: 'AttentionFwdArgs',
  doc: `Fused multi-head attention, forward (flash style: running max and sum over blocks of keys, never
more than one [query block, key block] tile of scores per thread):
  O[b, i, h] = sum_j softmax_j(scale * Q[b, i, h] . K[b, j, h]) V[b, j, h]
  L[b, h, i] = log sum_j exp(scale * Q[b, i, h] . K[b, j, h])    (f32, for the backward)
Q, K, V, O share one storage type (f32 or bf16); all math is f32 and O is rounded once. (On CUDA,
bf16 with head dims <= 128 takes a tensor-core path that rounds P and dS to bf16 before their
products, as flash-attention kernels do; VIT22B_CUDA_ATTENTION=simt keeps all math f32.) Operands are
views { buffer, offset, batchStride, tokenStride, headStride } (elements), so Q, K and V can sit side
by side in the fused [B, T, 3D + F] projection output. Inputs may overlap freely; an output must not
overlap an input or itself. Results do not depend on the number of threads.`,
  fields: {
    ...attentionSizes,
    q: f.headView('in', 'dtype', 'tq', '[B, Tq, H, Dh] at qStrides'),
    k: f.headView('in', 'dtype', 'tk', '[B, Tk, H, Dh] at kStrides'),
    v: f.headView('in', 'dtype', 'tk', '[B, Tk, H, Dh] at vStrides'),
    o: f.headView('out', 'dtype', 'tq', '[B, Tq, H, Dh] at oStrides, written'),
    lse: f.output('f32', 'batch * heads * tq', '[B, H, Tq] dense f32, written'),
  },
  checks: attentionChecks,
});
