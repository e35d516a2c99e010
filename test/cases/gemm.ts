// gemm (lib/kernels/gemm.ts GemmArgs): strided-batched C[b] = alpha op(A[b]) op(B[b]) + beta C[b],
// then the epilogue (+ bias[j], then GELU on the columns [geluBegin, geluEnd)); A and B f32 or
// bf16, C f32 or bf16 (bf16 A/B with an f32 C too), the bias of C's type or f32; f32 accumulation,
// C rounded once; beta == 0 never reads C. Ported from test/kernels/gemm.test.ts (with
// gemm-cases.ts) and test/kernels/gemm-gelu.test.ts, which this table replaces for the float64
// comparison; layouts: all four transposes, leading dimensions wider than the row, gaps between
// batches, one A or one B shared by every batch (stride 0), alpha / beta, k = 0.
//
// Inputs are +-[0.1, 1) (no zeros, so a skipped or doubled term shows); the elements of A and B
// the GEMM must not read (past a row, between batches) are NaN, so reading one poisons C; C's own
// gaps hold random values (beta != 0, C 'inout') or the runner's poison (beta == 0, C 'out'), and
// must come back unchanged either way.
//
// CPU tolerance, per element, with S = sum_p |a_ip b_pj| (gemm-cases.ts's bound, kept as it is;
// bf16 inputs are exact in f32 and so are their products):
//   tv = |alpha| k 2^-23 S + 2^-22 (|alpha dot| + |beta c| + |bias|)
//   (k roundings of the f32 accumulation, and those of alpha*, beta* and the adds);
//   GELU columns (gemm-gelu.test.ts): 1.2 tv (|gelu'| < 1.13) + c(v) |ref| + 2^-126, with the
//   GELU conditioning c(v) = 2^-20 (1 + |z|) (tanh) or 2^-20 (1 + v^2) (erf) of gelu.test.ts;
//   a bf16 C adds 2^-8 |ref| for its one rounding.
// fitTolerance turns these per-element bounds into one { abs, rel } that still meets every
// element's bound. The 'alpha 0' cases are exact: C = round(f32(beta c + bias)) bit for bit (an
// f32 bias on a bf16 C is added in f32, C rounded once), and their reference rounds the same way.
//
// GPU tolerance (CUDA against the CPU), from test/gpu/gemm-checks.cjs, with scale = |alpha| S +
// |beta c| + |bias|: 2 (k + 4) 2^-24 scale + 2^-20 |cpu| (two f32 accumulations in different
// orders); bf16 C + 2^-8 (|cpu| + scale) (one rounding on each side; twice on CUDA for a GELU range
// or an f32 bias on a bf16 C); cuBLASLt's own fused GELU (tanh over every column) + 2^-10 scale.
import { copyOf, rng, roundTo, toBf16, toF32 } from './case-kit';
import type { KernelCase, KernelCases, Tolerance } from './case-types';
import { conditioning, geluRef, TINY } from './shared/gelu';
import type { Form, Storage } from './shared/gelu';
import { fitTolerance, sameInputs, withLazyTolerances } from './shared/tolerance';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;

interface GemmShape {
  ab: Storage;
  c: Storage;
  /** The bias's storage; absent: no bias. Left out of the spec when it is C's (the default). */
  bias?: Storage;
  transA?: boolean;
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  batch?: number;
  alpha?: number;
  beta?: number;
  /** Leading dimensions past the row length, and spare elements between batches. */
  padA?: number;
  padB?: number;
  padC?: number;
  gapA?: number;
  gapB?: number;
  gapC?: number;
  /** One A (or B) for every batch: stride 0. */
  shareA?: boolean;
  shareB?: boolean;
  gelu?: { form: Form; begin: number; end: number };
  /** alpha 0: C = round(f32(beta c + bias)) exactly, and the case says so (tolerance 0). */
  exact?: boolean;
  seed: number;
}

/** +-[0.1, 1): no zeros, so a skipped or doubled term always shows (gemm-cases.ts's values). */
function nonZero(next: () => number): number {
  const v = 0.1 + 0.9 * next();
  return next() < 0.5 ? -v : v;
}

interface Operand {
  rows: number;
  cols: number;
  ld: number;
  stride: number;
}

function footprint(o: Operand, batch: number): number {
  if (batch === 0 || o.rows === 0 || o.cols === 0) return 0;
  return (batch - 1) * o.stride + (o.rows - 1) * o.ld + o.cols;
}

/** Whether element `index` lies inside one of the batch's matrices (not in a gap). */
function inMatrix(o: Operand, batch: number, index: number): boolean {
  for (let b = 0; b < batch; b++) {
    const off = index - b * o.stride;
    if (off >= 0 && off < o.rows * o.ld && off % o.ld < o.cols) return true;
  }
  return false;
}

const transName = (s: GemmShape): string => `${s.transA ? 'T' : 'N'}${s.transB ? 'T' : 'N'}`;

function layoutName(s: GemmShape): string {
  const batch = s.batch ?? 1;
  const g = s.gelu;
  const range = g ? (g.begin === g.end ? 'empty' : g.begin === 0 && g.end === s.n ? 'all columns' : 'column range') : '';
  return [
    transName(s),
    batch > 1 ? (s.shareA ? 'batched, A shared' : s.shareB ? 'batched, B shared' : 'batched') : '',
    s.padA || s.padB || s.padC ? 'ld > row' : '',
    s.gapA || s.gapB || s.gapC ? 'gaps between batches' : '',
    s.k === 0 ? 'k = 0' : '',
    s.exact ? 'alpha 0 exact' : (s.alpha ?? 1) !== 1 ? 'alpha' : '',
    (s.beta ?? 0) !== 0 ? 'beta' : '',
    g ? `gelu ${g.form} ${range}` : '',
  ].filter(Boolean).join(', ');
}

function caseName(s: GemmShape): string {
  const parts = [`${s.ab}->${s.c}`, `${s.m}x${s.n}x${s.k}`, transName(s)];
  const batch = s.batch ?? 1;
  if (batch > 1) parts.push(`batch ${batch}${s.shareA ? ' A shared' : ''}${s.shareB ? ' B shared' : ''}`);
  if (s.padA || s.padB || s.padC) parts.push(`ld +${s.padA ?? 0}/+${s.padB ?? 0}/+${s.padC ?? 0}`);
  if (s.gapA || s.gapB || s.gapC) parts.push(`gaps ${s.gapA ?? 0}/${s.gapB ?? 0}/${s.gapC ?? 0}`);
  if ((s.alpha ?? 1) !== 1 || (s.beta ?? 0) !== 0) parts.push(`alpha ${s.alpha ?? 1} beta ${s.beta ?? 0}`);
  if (s.bias) parts.push(`${s.bias} bias`);
  if (s.gelu) parts.push(`gelu ${s.gelu.form} [${s.gelu.begin}, ${s.gelu.end})`);
  if (s.exact) parts.push('exact');
  parts.push(`seed ${s.seed}`);
  return parts.join(' ');
}

function gemmCase(s: GemmShape): KernelCase {
  const { m, n, k } = s;
  const transA = s.transA ?? false;
  const transB = s.transB ?? false;
  const batch = s.batch ?? 1;
  const alpha = s.alpha ?? 1;
  const beta = s.beta ?? 0;
  const oa: Operand = { rows: transA ? k : m, cols: transA ? m : k, ld: 0, stride: 0 };
  oa.ld = oa.cols + (s.padA ?? 0);
  oa.stride = s.shareA ? 0 : oa.rows * oa.ld + (s.gapA ?? 0);
  const ob: Operand = { rows: transB ? n : k, cols: transB ? k : n, ld: 0, stride: 0 };
  ob.ld = ob.cols + (s.padB ?? 0);
  ob.stride = s.shareB ? 0 : ob.rows * ob.ld + (s.gapB ?? 0);
  const oc: Operand = { rows: m, cols: n, ld: n + (s.padC ?? 0), stride: 0 };
  oc.stride = m * oc.ld + (s.gapC ?? 0);
  // A padded C also has a few spare elements past its last row: a write past the end shows.
  const cSize = max(1, footprint(oc, batch) + (s.padC || s.gapC ? 3 : 0));

  const next = rng(s.seed);
  const fill = (o: Operand, size: number, gap: () => number): Float64Array => {
    const out = new Float64Array(max(1, size));
    for (let i = 0; i < out.length; i++) out[i] = inMatrix(o, batch, i) ? nonZero(next) : gap();
    return out;
  };
  const aData = fill(oa, footprint(oa, batch), () => Number.NaN);
  const bData = fill(ob, footprint(ob, batch), () => Number.NaN);
  const cData = beta !== 0 ? fill(oc, cSize, () => nonZero(next)) : undefined;
  const biasData = s.bias ? Float64Array.from({ length: n }, () => nonZero(next)) : undefined;

  const buffers: KernelCase['buffers'] = {
    a: { dtype: s.ab, size: aData.length, role: 'in', data: aData },
    b: { dtype: s.ab, size: bData.length, role: 'in', data: bData },
    // beta == 0: C is an 'out' buffer full of poison, which the kernel must not read.
    c: cData ? { dtype: s.c, size: cSize, role: 'inout', data: cData } : { dtype: s.c, size: cSize, role: 'out' },
  };
  if (s.bias) buffers.bias = { dtype: s.bias, size: n, role: 'in', data: biasData! };
  const gelu = s.gelu;

  /** The reference C (whole buffer), per element the CPU bound and the GPU scale. */
  const evaluate = (init: Record<string, Float64Array>) => {
    const a = init.a!;
    const b = init.b!;
    const bias = init.bias;
    const out = copyOf(init.c!);
    const bound = new Float64Array(out.length);
    const scale = new Float64Array(out.length);
    let geluCond = 0; // the largest GELU conditioning c(v) of the case
    // op(A[b]) as dense rows [m][k] and op(B[b]) as dense columns [n][k].
    const opA = new Float64Array(m * k);
    const opBt = new Float64Array(n * k);
    for (let bb = 0; bb < batch; bb++) {
      for (let i = 0; i < m; i++) {
        for (let p = 0; p < k; p++) opA[i * k + p] = a[bb * oa.stride + (transA ? p * oa.ld + i : i * oa.ld + p)]!;
      }
      for (let j = 0; j < n; j++) {
        for (let p = 0; p < k; p++) opBt[j * k + p] = b[bb * ob.stride + (transB ? j * ob.ld + p : p * ob.ld + j)]!;
      }
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let dot = 0;
          let sum = 0;
          for (let p = 0, ai = i * k, bj = j * k; p < k; p++) {
            const t = opA[ai + p]! * opBt[bj + p]!;
            dot += t;
            sum += abs(t);
          }
          const idx = bb * oc.stride + i * oc.ld + j;
          const old = beta === 0 ? 0 : out[idx]!; // beta == 0 never reads C (poison there)
          const bj = bias ? bias[j]! : 0;
          let want = alpha * dot + beta * old + bj;
          const tv = abs(alpha) * k * 2 ** -23 * sum + 2 ** -22 * (abs(alpha * dot) + abs(beta * old) + abs(bj));
          let tol = tv;
          if (s.exact) {
            // alpha * acc is 0 exactly, beta * c exact (beta 1 or 0): f32(beta c + bias), rounded to C.
            want = toF32(toF32(beta * old) + bj);
            if (s.c === 'bf16') want = toBf16(want);
            tol = 0;
          } else if (gelu && j >= gelu.begin && j < gelu.end) {
            const v = want;
            want = geluRef(v, gelu.form);
            const cv = conditioning(v, gelu.form);
            geluCond = max(geluCond, cv);
            tol = 1.2 * tv + cv * abs(want) + TINY;
          }
          if (s.c === 'bf16' && !s.exact) tol += 2 ** -8 * abs(want);
          out[idx] = want;
          bound[idx] = tol;
          scale[idx] = abs(alpha) * sum + abs(beta * old) + abs(bj);
        }
      }
    }
    return { c: out, bound, scale, geluCond };
  };

  // This case's own inputs as the kernel sees them (rounded as uploaded, C poisoned when 'out'),
  // and the reference on them, computed once: the tolerances come from it, and the runner's
  // reference call on the same inputs reuses it (any other inputs are evaluated afresh).
  const own: Record<string, Float64Array> = {
    a: roundTo(s.ab, aData),
    b: roundTo(s.ab, bData),
    c: cData ? roundTo(s.c, cData) : new Float64Array(cSize).fill(Number.NaN),
  };
  if (biasData) own.bias = roundTo(s.bias!, biasData);
  let ownResult: ReturnType<typeof evaluate> | undefined;
  const evaluateOwn = () => (ownResult ??= evaluate(own));

  const tolerances = (): { cpu: Tolerance; gpu: Tolerance } => {
    const { c, bound, scale, geluCond } = evaluateOwn();
    const store = s.c === 'bf16' ? 2 ** -8 : 0;
    // rel candidates: C's rounding alone, with the 2^-22 of the adds, with the GELU conditioning.
    const rels = [store, store + 2 ** -22, store + 2 ** -22 + geluCond];
    const cpu = s.exact ? { abs: 0, rel: 0 } : fitTolerance(bound, c, rels);
    // GPU: every scale term into abs (the largest), the |cpu| terms into rel.
    const fusedGelu = gelu && gelu.form === 'tanh' && gelu.begin === 0 && gelu.end === n;
    let gpuAbs = 0;
    for (let i = 0; i < scale.length; i++) {
      const sc = scale[i]!;
      gpuAbs = max(gpuAbs, 2 * (k + 4) * 2 ** -24 * sc + (s.c === 'bf16' ? 2 ** -8 * sc : 0) + (fusedGelu ? 2 ** -10 * sc : 0));
    }
    return { cpu, gpu: { abs: gpuAbs + 1e-30, rel: 2 ** -20 + store } };
  };

  return withLazyTolerances({
    name: caseName(s),
    dtype: `${s.ab}->${s.c}${s.bias ? `, ${s.bias} bias` : ''}`,
    layout: layoutName(s),
    buffers,
    spec: (h) => ({
      abType: s.ab, cType: s.c, transA, transB, m, n, k, batch, alpha, beta,
      a: h.a, lda: oa.ld, strideA: oa.stride,
      b: h.b, ldb: ob.ld, strideB: ob.stride,
      c: h.c, ldc: oc.ld, strideC: oc.stride,
      ...(s.bias ? { bias: h.bias } : {}),
      ...(s.bias && s.bias !== s.c ? { biasType: s.bias } : {}),
      ...(gelu ? { geluForm: gelu.form, geluBegin: gelu.begin, geluEnd: gelu.end } : {}),
    }),
    reference: (init) => ({ c: copyOf((sameInputs(init, own) ? evaluateOwn() : evaluate(init)).c) }),
  }, tolerances);
}

// ---- the cases ----

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];
// Edge sizes (1, odd, one past the 14x32 / 6x16 / 4x8 tiles) and depths past one packed block
// (kc = 256 for f32, 512 for bf16 pairs): gemm.test.ts's list.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 3],
  [3, 1, 129],
  [17, 3, 1],
  [3, 3, 17],
  [15, 33, 7],
  [29, 65, 129],
  [129, 17, 129],
  [43, 97, 300],
];
const shapes: GemmShape[] = [];

// Every size with every transpose: f32, bf16 inputs into an f32 C, and all bf16 (with one depth
// past two bf16 blocks).
for (const [transA, transB] of TRANSPOSES) {
  SIZES.forEach(([m, n, k]) => shapes.push({ ab: 'f32', c: 'f32', transA, transB, m, n, k, seed: m * 7 + n * 3 + k }));
  for (const [m, n, k] of [...SIZES, [17, 45, 1031] as [number, number, number]]) {
    shapes.push({ ab: 'bf16', c: 'f32', transA, transB, m, n, k, seed: m + n + k });
    shapes.push({ ab: 'bf16', c: 'bf16', transA, transB, m, n, k, seed: m + n + k + 1 });
  }
}

// Larger products: several row tiles, column blocks (nc <= 192) and depth blocks (kc = 256 for
// f32, 512 for bf16) on every thread; gemm.test.ts's square case and the thread-count cases of its
// child process, cut to what a float64 reference checks in well under a second.
shapes.push({ ab: 'f32', c: 'f32', m: 131, n: 401, k: 263, seed: 11 });
shapes.push({ ab: 'bf16', c: 'f32', transB: true, m: 61, n: 203, k: 530, seed: 22 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'bf16', transA: true, m: 97, n: 129, k: 300, batch: 2, beta: 0.5, seed: 23 });

// alpha and beta, every storage combination (f32 inputs into a bf16 C included).
for (const c of ['f32', 'bf16'] as Storage[]) {
  for (const ab of ['f32', 'bf16'] as Storage[]) {
    shapes.push({ ab, c, m: 37, n: 41, k: 300, alpha: -0.75, beta: 1.5, seed: 5 });
    shapes.push({ ab, c, transB: true, m: 5, n: 70, k: 9, alpha: 2, beta: -1, seed: 6 });
  }
}

// The bias epilogue (after alpha and beta), a bias of C's type.
for (const c of ['f32', 'bf16'] as Storage[]) {
  shapes.push({ ab: 'f32', c, bias: c, m: 33, n: 47, k: 65, seed: 7 });
  shapes.push({ ab: 'bf16', c, bias: c, transA: true, m: 16, n: 35, k: 260, alpha: 0.5, beta: 0.25, seed: 8 });
}

// k = 0: C = beta C + bias.
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', m: 4, n: 5, k: 0, beta: 0.5, seed: 9 });
shapes.push({ ab: 'f32', c: 'bf16', bias: 'f32', m: 4, n: 5, k: 0, beta: 1, seed: 9 });

// bf16-mixed training: an f32 master bias on a bf16 C (beta 1: the residual add joins it), every
// transpose, bf16 and f32 inputs, an odd small and a deep size each.
TRANSPOSES.forEach(([transA, transB], t) => {
  for (const ab of ['bf16', 'f32'] as Storage[]) {
    for (const beta of [0, 1]) {
      for (const [m, n, k] of [SIZES[(t + beta) % 6]!, SIZES[6 + ((t + (ab === 'f32' ? 1 : 0)) % 3)]!]) {
        shapes.push({ ab, c: 'bf16', bias: 'f32', transA, transB, m, n, k, beta, seed: m * 5 + n + k + beta });
      }
    }
  }
});

// ... and exactly: alpha 0 gives C = round_bf16(f32(beta c + bias)); a bias rounded to bf16 first
// (or read as bf16 bits) would differ in many elements.
for (const beta of [0, 1]) shapes.push({ ab: 'bf16', c: 'bf16', bias: 'f32', m: 7, n: 133, k: 9, alpha: 0, beta, exact: true, seed: 60 + beta });

// bf16 inputs with an f32 C (weight gradients into f32 buffers, beta 1 accumulating):
// dW = X^T dY (transA, deep k), a batched transB, and a bias.
for (const [m, n, k] of [[1, 1, 1], [17, 3, 129], [33, 65, 300], [24, 97, 531]] as [number, number, number][]) {
  for (const beta of [0, 1]) {
    shapes.push({ ab: 'bf16', c: 'f32', transA: true, m, n, k, beta, seed: 100 + m + n + k + beta });
    shapes.push({ ab: 'bf16', c: 'f32', transB: true, m, n, k, beta, batch: 2, seed: 100 + m + n + k + beta + 7 });
    shapes.push({ ab: 'bf16', c: 'f32', bias: 'f32', m, n, k, beta, seed: 100 + m + n + k + beta + 13 });
  }
}

// Strided batches: leading dimensions past the row, NaN gaps between batches of A, one B for
// every batch (or one A), C's gaps unchanged; every transpose, f32 and bf16.
TRANSPOSES.forEach(([transA, transB], t) => {
  for (const ab of ['f32', 'bf16'] as Storage[]) {
    const common = { transA, transB, m: 19, n: 37, k: 23, batch: 3, padA: 3, gapA: 5, padB: 1, padC: 2, gapC: 7 };
    shapes.push({ ab, c: ab, bias: ab, ...common, alpha: 1.25, beta: -0.5, shareB: true, seed: 12 });
    shapes.push({ ab, c: ab, ...common, gapB: 4, alpha: 0.75, beta: 1, shareA: true, seed: 13 + t });
  }
});
// ... with mixed storage: bf16 into f32 (beta 1) and an f32 bias on bf16 (beta 0: C's gaps poisoned).
shapes.push({ ab: 'bf16', c: 'f32', transA: true, m: 20, n: 31, k: 67, batch: 4, padA: 2, gapA: 3, padB: 5, gapB: 1, padC: 3, gapC: 2, beta: 1, seed: 14 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'f32', transB: true, m: 11, n: 29, k: 41, batch: 3, padA: 1, padB: 2, padC: 4, gapC: 5, shareB: true, seed: 15 });
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', m: 13, n: 9, k: 300, batch: 2, padB: 3, gapB: 2, padC: 1, gapC: 3, shareA: true, seed: 16 });

// Device.gemm's shapes (gemm.test.ts, gemm-gelu.test.ts): x [B, T, D] @ W [D, N] with one W for
// every batch (stride 0) and a bias (bf16, or bf16-mixed f32 with beta 1), attention scores
// q @ k^T per batch, and the fused projection with GELU on its MLP columns.
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'bf16', m: 17, n: 33, k: 24, batch: 3, shareB: true, seed: 17 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'f32', m: 17, n: 33, k: 24, batch: 3, shareB: true, beta: 1, seed: 18 });
shapes.push({ ab: 'f32', c: 'f32', transB: true, m: 9, n: 11, k: 16, batch: 2, alpha: 0.25, seed: 19 });
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', m: 5, n: 56, k: 8, batch: 2, shareB: true, gelu: { form: 'tanh', begin: 24, end: 56 }, seed: 20 });

// The GELU epilogue on a column range (gemm-gelu.test.ts): ranges inside, across and at the edges
// of the C blocks (nc <= 192), the fused QKV + MLP-in shape (D = 24, F = 4D), every storage.
const GELU_SIZES: [number, number, number, [number, number]][] = [
  [1, 1, 1, [0, 1]],
  [3, 17, 5, [3, 17]],
  [17, 35, 129, [0, 0]],
  [9, 450, 33, [100, 400]], // crosses the 192-column block boundary
  [5, 450, 7, [192, 384]], // exactly one block's columns
  [33, 7 * 24, 24, [3 * 24, 7 * 24]],
];
for (const form of ['tanh', 'erf'] as Form[]) {
  GELU_SIZES.forEach(([m, n, k, [begin, end]], i) => {
    for (const c of ['f32', 'bf16'] as Storage[]) {
      for (const ab of ['f32', 'bf16'] as Storage[]) {
        shapes.push({ ab, c, bias: c, m, n, k, gelu: { form, begin, end }, seed: 40 + i });
      }
    }
  });
}
// ... after alpha and beta, without a bias, transposed, batched, k = 0, every column (tanh: what
// cuBLASLt fuses itself), strided batches.
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', m: 37, n: 41, k: 300, alpha: -0.75, beta: 1.5, gelu: { form: 'tanh', begin: 10, end: 30 }, seed: 50 });
shapes.push({ ab: 'f32', c: 'f32', transB: true, m: 20, n: 50, k: 19, gelu: { form: 'erf', begin: 0, end: 50 }, seed: 51 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'bf16', transA: true, m: 13, n: 29, k: 64, batch: 3, gelu: { form: 'tanh', begin: 7, end: 28 }, seed: 52 });
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', m: 4, n: 6, k: 0, beta: 0.5, gelu: { form: 'tanh', begin: 2, end: 5 }, seed: 53 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'bf16', m: 31, n: 60, k: 45, gelu: { form: 'tanh', begin: 0, end: 60 }, seed: 54 });
shapes.push({ ab: 'f32', c: 'f32', bias: 'f32', transA: true, transB: true, m: 11, n: 40, k: 17, batch: 2, padA: 2, gapA: 3, padB: 1, padC: 5, gapC: 2, shareB: true, gelu: { form: 'erf', begin: 5, end: 33 }, seed: 55 });
shapes.push({ ab: 'bf16', c: 'bf16', bias: 'f32', m: 11, n: 40, k: 17, batch: 2, padA: 1, padB: 2, gapB: 3, padC: 3, gapC: 1, beta: 1, gelu: { form: 'tanh', begin: 8, end: 40 }, seed: 56 });
// ... and bf16-mixed: the fused projection's f32 master bias on a bf16 C, beta 0 and 1.
for (const form of ['tanh', 'erf'] as Form[]) {
  const sizes: [number, number, number, [number, number]][] = [
    [1, 1, 1, [0, 1]],
    [3, 17, 5, [3, 17]],
    [17, 35, 129, [1, 34]],
    [9, 450, 33, [100, 400]],
    [33, 7 * 24, 24, [3 * 24, 7 * 24]],
  ];
  sizes.forEach(([m, n, k, [begin, end]], i) => {
    for (const ab of ['bf16', 'f32'] as Storage[]) {
      for (const beta of [0, 1]) {
        shapes.push({ ab, c: 'bf16', bias: 'f32', transB: i % 2 === 1, m, n, k, beta, gelu: { form, begin, end }, seed: 70 + i + beta });
      }
    }
  });
}

// The CUDA-vs-CPU combinations of test/gpu/gemm-checks.cjs that no case above had, moved here when
// that script shrank to what the table cannot say, in its order (seeds 300 on). Shapes as the
// script had them: its gaps between batches are one spare row (one leading dimension).
let seed = 300;
const STORAGES: [Storage, Storage][] = [['f32', 'f32'], ['f32', 'bf16'], ['bf16', 'f32'], ['bf16', 'bf16']];
// f32 inputs into a bf16 C without a bias on every transpose.
for (const [transA, transB] of TRANSPOSES) {
  for (const [m, n, k] of [[3, 1, 129], [33, 65, 31]] as [number, number, number][]) shapes.push({ ab: 'f32', c: 'bf16', transA, transB, m, n, k, seed: seed++ });
}
// Batches with A, B or both shared (stride 0), padded and gapped, with and without beta, in every storage.
for (const [ab, c] of STORAGES) {
  shapes.push(
    { ab, c, m: 17, n: 29, k: 33, batch: 3, gapB: 29, gapC: 29, shareA: true, seed: seed++ },
    { ab, c, transB: true, m: 17, n: 29, k: 33, batch: 3, gapA: 33, gapC: 29, shareB: true, seed: seed++ },
    { ab, c, transA: true, m: 9, n: 31, k: 65, batch: 4, alpha: -0.75, beta: 1, padA: 3, padB: 5, padC: 7, gapA: 12, gapB: 36, gapC: 38, seed: seed++ },
    { ab, c, transA: true, transB: true, m: 40, n: 24, k: 19, batch: 2, alpha: 1.5, beta: -0.5, padC: 1, gapA: 40, gapB: 19, gapC: 25, seed: seed++ },
    { ab, c, m: 5, n: 7, k: 3, batch: 2, beta: 1, gapC: 7, shareA: true, shareB: true, seed: seed++ },
  );
}
// Epilogues in every storage, a bias of C's type: the bias on a batched, padded C with beta; erf over
// every column transposed, a tanh range with beta, an erf range on batches sharing B; without a
// bias, GELU over every column (cuBLASLt's own GELU epilogue) and on a one-column range, transposed.
// (All bf16 first takes the bias alone.)
for (const [ab, c] of STORAGES) {
  if (ab === 'bf16' && c === 'bf16') shapes.push({ ab, c, bias: c, m: 37, n: 97, k: 64, seed: seed++ });
  shapes.push(
    { ab, c, bias: c, m: 37, n: 97, k: 64, batch: 2, beta: 1, padC: 3, gapA: 64, gapB: 97, gapC: 100, seed: seed++ },
    { ab, c, bias: c, transB: true, m: 37, n: 97, k: 64, gelu: { form: 'erf', begin: 0, end: 97 }, seed: seed++ },
    { ab, c, bias: c, m: 37, n: 97, k: 64, beta: 1, gelu: { form: 'tanh', begin: 32, end: 64 }, seed: seed++ },
    { ab, c, bias: c, m: 37, n: 97, k: 64, batch: 3, gapA: 64, gapC: 97, shareB: true, gelu: { form: 'erf', begin: 32, end: 97 }, seed: seed++ },
    { ab, c, m: 37, n: 97, k: 64, alpha: 0.5, gelu: { form: 'tanh', begin: 0, end: 97 }, seed: seed++ },
    { ab, c, transA: true, m: 37, n: 97, k: 64, gelu: { form: 'erf', begin: 1, end: 2 }, seed: seed++ },
  );
}
// An f32 bias on a bf16 C (bf16 and f32 inputs): batched and padded with beta, erf over every
// column transposed, k = 0 with GELU.
for (const ab of ['bf16', 'f32'] as Storage[]) {
  shapes.push(
    { ab, c: 'bf16', bias: 'f32', m: 37, n: 97, k: 64, batch: 2, beta: 1, padC: 3, gapA: 64, gapB: 97, gapC: 100, seed: seed++ },
    { ab, c: 'bf16', bias: 'f32', transB: true, m: 37, n: 97, k: 64, beta: 1, gelu: { form: 'erf', begin: 0, end: 97 }, seed: seed++ },
    { ab, c: 'bf16', bias: 'f32', m: 5, n: 9, k: 0, beta: 1, gelu: { form: 'erf', begin: 2, end: 7 }, seed: seed++ },
  );
}
// k = 0: a bias alone, batched with beta and GELU, and beta alone without a bias.
shapes.push(
  { ab: 'f32', c: 'f32', bias: 'f32', m: 5, n: 9, k: 0, seed: seed++ },
  { ab: 'f32', c: 'f32', bias: 'f32', m: 5, n: 9, k: 0, batch: 2, beta: 2, gapB: 9, gapC: 9, gelu: { form: 'erf', begin: 2, end: 7 }, seed: seed++ },
  { ab: 'bf16', c: 'bf16', m: 3, n: 4, k: 0, beta: -1, seed: seed++ },
);

const gemm: KernelCases = { kernel: 'gemm', cases: shapes.map(gemmCase) };
export default gemm;
