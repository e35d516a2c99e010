// attention_bwd (lib/kernels/attention_bwd.ts AttentionBwdArgs), by recomputation from the forward's L:
//   P = exp(scale Q K^T - L), D = rowsum(dO * O), dS = P * (dO V^T - D)
//   dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO   (overwritten, rounded once from f32)
// Q, K, V, O, dO, dQ, dK, dV of one storage type (f32 or bf16), L f32, every operand a strided view
// (lib/kernels/attention_bwd.ts). Ported from test/kernels/attention.test.ts (and the layouts
// of test/gpu/attention-checks.cjs): dense; fused (Q, K, V windows of one [B, T, 3D + F] buffer and
// dQ, dK, dV the same windows of one gradient buffer, O a window at column 1 of [B, T, D + 3]);
// map (Tq != Tk: Q from a probe [B, Tq, D], K and V windows of [B, Tk, 2D + F], their gradients
// the same windows of a gradient buffer); strided (gaps between heads, tokens and batches, every
// operand its own); heads-major (Q, K, V, O, dO in [B, H, T, Dh] storage; the gradients, which
// the binding keeps token-major, dense). Inputs outside their views are NaN, the gradients' gaps
// keep the runner's poison. O and L are the float64 forward of the case's (rounded) Q, K, V,
// stored as the kernel's forward would store them (O in the storage type, L in f32); the reference
// takes them as given, as the kernel does (D from the stored O).
//
// CPU tolerance (attention.test.ts's bound), per element with scale_g the sum of absolute terms
// of that gradient element (|dP| and |D| replaced by sum_d |dO v| and sum_d |dO o|):
//   f32:  2e-5 scale_g + 1e-6   bf16: 2^-8 (|ref| + scale_g) + 1e-6   (one rounding of the output)
// turned into one { abs, rel } per output buffer that still meets every element's bound.
// GPU tolerance (attention-checks.cjs), M the largest |gradient| of the output buffer: f32
// 2e-4 M + 1e-6; bf16 2^-7 |cpu| + 2^-7 M + 1e-6 on the tensor cores (Dh <= 128: P and dS rounded
// to bf16 before their products), 2^-9 M on the CUDA cores (Dh > 128).
//
// gradient: where each gradient buffer has its input's layout and no gaps (dense; fused and map
// with F = 0), the reference's dQ, dK, dV are checked against central differences of the float64
// forward under the cotangent dO. (A gradient buffer with gaps holds poison there, and
// run-case.ts's gradientMismatch multiplies every element, gaps included, by its direction: NaN
// times 0. Those layouts are the same reference code.) The reference takes O and L as stored, so
// it is the forward's gradient only to their rounding: f32 O and L are 2^-24 relative off, which
// moves each gradient element by ~1e-7 relative, and the random direction's sum cancels to ~1e-2
// of its terms (measured: up to 8e-6 relative against exact O and L, 1e-7 with them), so rel 1e-4;
// bf16 O is 2^-9 off (measured up to 3e-3), so rel 2^-6. A wrong term or sign is O(1).
import { copyOf, rng, roundTo } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import { ATTENTION_SHAPES, attentionForward, elementBound, forwardOfViews, gather, layoutShapes, outputTolerances, scatter, seedOffset, shapeParts, signedDraw, viewMaker, viewSpec } from './shared/attention';
import type { AttnDims, AttnKind, AttnShape, Storage, View } from './shared/attention';
import { sameInputs, withLazyTolerances } from './shared/tolerance';

type Operand = 'q' | 'k' | 'v' | 'o' | 'dO' | 'dQ' | 'dK' | 'dV';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const exp = Math.exp;

interface Layout {
  sizes: Record<string, number>;
  views: Record<Operand, View>;
  /** The forward's inputs (the gradient's wrt) and, per input buffer, its gradient buffer. */
  grads: Record<string, string>;
  /** Whether every gradient buffer has its input's layout and no gaps (see the header). */
  gradientable: boolean;
}

const QUERY_SIDE = new Set<Operand>(['q', 'o', 'dO', 'dQ']);

/** F: the extra (MLP) columns of a fused buffer, which no view covers. */
function layoutOf(kind: AttnKind, d: AttnDims, F: number): Layout {
  const { heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const D = H * Dh;
  const { sizes, rows, headsMajor, strided } = viewMaker(d);
  const tokensOf = (op: Operand): number => (QUERY_SIDE.has(op) ? Tq : Tk);
  const denseOf = (op: Operand): View => rows(op, tokensOf(op), D, 0);
  if (kind === 'dense') {
    const ops: Operand[] = ['q', 'k', 'v', 'o', 'dO', 'dQ', 'dK', 'dV'];
    const views = Object.fromEntries(ops.map((op) => [op, denseOf(op)])) as Record<Operand, View>;
    return { sizes, views, grads: { q: 'dQ', k: 'dK', v: 'dV' }, gradientable: true };
  }
  if (kind === 'fused') {
    if (Tq !== Tk) throw new Error('the fused layout needs tq == tk');
    const W = 3 * D + F;
    const views: Record<Operand, View> = {
      q: rows('qkv', Tq, W, 0), k: rows('qkv', Tq, W, D), v: rows('qkv', Tq, W, 2 * D),
      dQ: rows('dqkv', Tq, W, 0), dK: rows('dqkv', Tq, W, D), dV: rows('dqkv', Tq, W, 2 * D),
      o: rows('o', Tq, D + 3, 1), dO: denseOf('dO'),
    };
    return { sizes, views, grads: { qkv: 'dqkv' }, gradientable: F === 0 };
  }
  if (kind === 'map') {
    const W = 2 * D + F;
    const views: Record<Operand, View> = {
      q: rows('probe', Tq, D, 0), dQ: rows('dprobe', Tq, D, 0),
      k: rows('kv', Tk, W, 0), v: rows('kv', Tk, W, D), dK: rows('dkv', Tk, W, 0), dV: rows('dkv', Tk, W, D),
      o: denseOf('o'), dO: denseOf('dO'),
    };
    return { sizes, views, grads: { probe: 'dprobe', kv: 'dkv' }, gradientable: F === 0 };
  }
  if (kind === 'heads-major') {
    const hm = (op: Operand): View => headsMajor(op, tokensOf(op));
    const views: Record<Operand, View> = {
      q: hm('q'), k: hm('k'), v: hm('v'), o: hm('o'), dO: hm('dO'),
      // an output's tokens must not interleave (the binding refuses it): the gradients are dense
      dQ: denseOf('dQ'), dK: denseOf('dK'), dV: denseOf('dV'),
    };
    return { sizes, views, grads: { q: 'dQ', k: 'dK', v: 'dV' }, gradientable: false };
  }
  // strided: spare elements after each head, token and batch; a gradient has its input's strides.
  const views: Record<Operand, View> = {
    q: strided('q', Tq, 0), k: strided('k', Tk, 1), v: strided('v', Tk, 2), o: strided('o', Tq, 3), dO: strided('dO', Tq, 1),
    dQ: strided('dQ', Tq, 0), dK: strided('dK', Tk, 1), dV: strided('dV', Tk, 2),
  };
  return { sizes, views, grads: { q: 'dQ', k: 'dK', v: 'dV' }, gradientable: false };
}

/**
 * The backward in float64 on dense arrays, with O and L as given (as the kernel takes them): dq,
 * dk, dv and per element the sum of absolute terms (attention-reference.ts's scales).
 */
function backwardRef(d: AttnDims, x: Record<'q' | 'k' | 'v' | 'o' | 'dO' | 'lse', Float64Array>, scale: number) {
  const { batch: B, heads: H, tq: Tq, tk: Tk, headDim: Dh } = d;
  const { q, k, v, o, dO, lse } = x;
  const nq = B * Tq * H * Dh;
  const nk = B * Tk * H * Dh;
  const r = {
    dQ: new Float64Array(nq), dK: new Float64Array(nk), dV: new Float64Array(nk),
    dQScale: new Float64Array(nq), dKScale: new Float64Array(nk), dVScale: new Float64Array(nk),
  };
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const qi = ((b * Tq + i) * H + h) * Dh;
        const L = lse[(b * H + h) * Tq + i]!;
        let delta = 0;
        let deltaAbs = 0;
        for (let t = 0; t < Dh; t++) {
          delta += dO[qi + t]! * o[qi + t]!;
          deltaAbs += abs(dO[qi + t]! * o[qi + t]!);
        }
        for (let j = 0; j < Tk; j++) {
          const kj = ((b * Tk + j) * H + h) * Dh;
          let dot = 0;
          let dp = 0;
          let dpAbs = 0;
          for (let t = 0; t < Dh; t++) {
            dot += q[qi + t]! * k[kj + t]!;
            dp += dO[qi + t]! * v[kj + t]!;
            dpAbs += abs(dO[qi + t]! * v[kj + t]!);
          }
          const p = exp(scale * dot - L);
          const ds = scale * p * (dp - delta);
          const dsAbs = scale * p * (dpAbs + deltaAbs);
          for (let t = 0; t < Dh; t++) {
            r.dV[kj + t] = r.dV[kj + t]! + p * dO[qi + t]!;
            r.dVScale[kj + t] = r.dVScale[kj + t]! + p * abs(dO[qi + t]!);
            r.dQ[qi + t] = r.dQ[qi + t]! + ds * k[kj + t]!;
            r.dQScale[qi + t] = r.dQScale[qi + t]! + dsAbs * abs(k[kj + t]!);
            r.dK[kj + t] = r.dK[kj + t]! + ds * q[qi + t]!;
            r.dKScale[kj + t] = r.dKScale[kj + t]! + dsAbs * abs(q[qi + t]!);
          }
        }
      }
    }
  }
  return r;
}

function attentionBwdCase(s: AttnShape): KernelCase {
  const { d, scale, lo, hi, keys, lay, lseSize, scalars } = shapeParts(s, layoutOf);
  const { batch, heads, headDim } = d;
  const dtype = s.dtype;
  const views = lay.views;
  const r = rng(s.seed);
  const random = (op: Operand): Float64Array => {
    const out = new Float64Array(batch * views[op].tokens * heads * headDim);
    for (let i = 0; i < out.length; i++) out[i] = signedDraw(r, lo, hi);
    return out;
  };

  // Q, K, V and dO random; O and L the float64 forward of Q, K, V as the kernel will see them.
  const dense: Partial<Record<Operand, Float64Array>> = { q: random('q'), k: random('k'), v: random('v'), dO: random('dO') };
  const fwd = attentionForward(d, roundTo(dtype, dense.q!), roundTo(dtype, dense.k!), roundTo(dtype, dense.v!), scale);
  dense.o = fwd.o;
  const inputs: Operand[] = ['q', 'k', 'v', 'o', 'dO'];
  const outputs: Operand[] = ['dQ', 'dK', 'dV'];
  const data: Record<string, Float64Array> = {};
  for (const op of inputs) {
    const buf = views[op].buf;
    data[buf] ??= new Float64Array(lay.sizes[buf]!).fill(Number.NaN);
    scatter(data[buf]!, views[op], d, dense[op]!);
  }
  const buffers: KernelCase['buffers'] = {};
  for (const [name, arr] of Object.entries(data)) buffers[name] = { dtype, size: arr.length, role: 'in', data: arr };
  buffers.lse = { dtype: 'f32', size: lseSize, role: 'in', data: fwd.lse };
  const outBufs = [...new Set(outputs.map((op) => views[op].buf))];
  for (const name of outBufs) buffers[name] = { dtype, size: lay.sizes[name]!, role: 'out' };

  /** The reference gradient buffers (whole), and per gradient buffer the CPU bound and |ref|. */
  const evaluate = (init: Record<string, Float64Array>) => {
    const g = (op: Operand) => gather(init[views[op].buf]!, views[op], d);
    const ref = backwardRef(d, { q: g('q'), k: g('k'), v: g('v'), o: g('o'), dO: g('dO'), lse: init.lse! }, scale);
    const result: Record<string, Float64Array> = {};
    // Per gradient buffer, its operands' elements one after the other (gaps left out).
    const bound: Record<string, Float64Array> = {};
    const value: Record<string, Float64Array> = {};
    const filled: Record<string, number> = {};
    for (const name of outBufs) {
      result[name] = copyOf(init[name]!);
      const n = outputs.filter((op) => views[op].buf === name).reduce((acc, op) => acc + batch * views[op].tokens * heads * headDim, 0);
      bound[name] = new Float64Array(n);
      value[name] = new Float64Array(n);
      filled[name] = 0;
    }
    for (const op of outputs) {
      const buf = views[op].buf;
      const want = ref[op as 'dQ' | 'dK' | 'dV'];
      const sc = ref[`${op}Scale` as 'dQScale' | 'dKScale' | 'dVScale'];
      scatter(result[buf]!, views[op], d, want);
      const bb = bound[buf]!;
      const vv = value[buf]!;
      let at = filled[buf]!;
      for (let i = 0; i < want.length; i++, at++) {
        bb[at] = elementBound(dtype, want[i]!, sc[i]!);
        vv[at] = want[i]!;
      }
      filled[buf] = at;
    }
    return { result, bound, value };
  };

  // This case's own inputs as the kernel sees them, and the reference on them, computed once: the
  // tolerances come from it, and the runner's reference call on the same inputs reuses it.
  const own: Record<string, Float64Array> = { lse: roundTo('f32', fwd.lse) };
  for (const [name, arr] of Object.entries(data)) own[name] = roundTo(dtype, arr);
  for (const name of outBufs) own[name] = new Float64Array(lay.sizes[name]!).fill(Number.NaN);
  let ownResult: ReturnType<typeof evaluate> | undefined;
  const evaluateOwn = () => (ownResult ??= evaluate(own));
  const tolerances = (): { cpu: Record<string, Tolerance>; gpu: Record<string, Tolerance> } => {
    const { bound, value } = evaluateOwn();
    const cpu: Record<string, Tolerance> = {};
    const gpu: Record<string, Tolerance> = {};
    for (const name of outBufs) {
      const t = outputTolerances(dtype, headDim, bound[name]!, value[name]!);
      cpu[name] = t.cpu;
      gpu[name] = t.gpu;
    }
    return { cpu, gpu };
  };

  // The forward for the gradient: O of the wrt buffers' Q, K, V, laid out as dO's buffer.
  const forward = (x: Record<string, Float64Array>) => {
    const ref = forwardOfViews(d, x, views, scale);
    const o = new Float64Array(lay.sizes[views.dO.buf]!);
    scatter(o, views.dO, d, ref.o);
    return { o };
  };

  return withLazyTolerances({
    ...keys,
    buffers,
    spec: (h) => ({
      ...scalars,
      ...Object.fromEntries([...inputs, ...outputs].map((op) => [op, viewSpec(h, views[op])])),
      lse: h.lse,
    }),
    reference: (init) => {
      const { result } = sameInputs(init, own) ? evaluateOwn() : evaluate(init);
      return Object.fromEntries(Object.entries(result).map(([name, arr]) => [name, copyOf(arr)]));
    },
    ...(lay.gradientable
      ? {
          gradient: {
            forward,
            wrt: Object.keys(lay.grads),
            cotangents: { o: views.dO.buf },
            grads: lay.grads,
            tolerance: dtype === 'f32' ? { abs: 1e-7, rel: 1e-4 } : { abs: 1e-6, rel: 2 ** -6 },
          },
        }
      : {}),
  }, tolerances);
}

const shapes: AttnShape[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  const off = seedOffset(dtype);
  ATTENTION_SHAPES.forEach((dims, i) => shapes.push({ dtype, kind: 'dense', dims, seed: 200 + i + off }));
  // attention.test.ts's thread-count shapes (smaller): B * H = 3 and B = H = 1 run the two-pass
  // backward on more than one thread, B * H = 8 the one-pass one.
  shapes.push({ dtype, kind: 'dense', dims: dtype === 'f32' ? [1, 3, 100, 90, 64] : [1, 1, 130, 100, 48], seed: 31 + off });
  shapes.push({ dtype, kind: 'dense', dims: [4, 2, 3, 90, 128], seed: 33 + off });
  // Large logits: P far from uniform.
  shapes.push({ dtype, kind: 'dense', dims: [1, 2, 33, 50, 64], lo: 0.125, hi: 2, scale: 0.5, seed: 7 + off });
  // Fused projection windows and the MAP head (F = 0: gradient-checked too), gaps, heads-major.
  shapes.push(...layoutShapes(dtype, 0, 0));
}

const attentionBwd: KernelCases = { kernel: 'attention_bwd', cases: shapes.map(attentionBwdCase) };
export default attentionBwd;
