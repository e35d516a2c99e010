/**
 * sigmoid_xent (lib/kernels/sigmoid_xent.ts SigmoidXentArgs; spec at the top of
 * lib/kernels/sigmoid_xent.ts): multi-label sigmoid cross-entropy with label smoothing, the
 * loss of each row (summed over classes) and, when dlogits is given, the gradient of
 * dscale * mean(loss); f32 and bf16 logits, f32 targets.
 *
 * Reference (float64, from the definition; t' = (1 - eps) t + eps / 2, eps and dscale as the f32
 * values the binding passes on):
 *   loss = sum_j -t' log s(x) - (1 - t') log(1 - s(x)) = sum_j t' softplus(-x) + (1 - t') softplus(x)
 *          with softplus(z) = log(1 + e^z) evaluated as max(z, 0) + log1p(e^-|z|) (no log(0) at
 *          large |x|: the same quantity, exact in float64);
 *   dlogits = (s(x) - t') dscale / N, s(x) = 1 / (1 + e^-x).
 * Inputs: logits uniform in [-8, 8) (rounded to the storage type), targets uniform in [0, 1) with
 * every third one a hard 0 or 1 (all in [0, 1], as the kernel requires).
 *
 * Gradient: dlogits against central differences of the float64 loss, contracted with dscale / N
 * per row (the buffer lossWeight, which the kernel does not read).
 *
 * Tolerances, carried over from test/kernels/losses.test.ts (exact inputs; the kernel sums in
 * double and rounds once):
 *   loss     |err| <= 4e-6 |ref| + 4e-6 C       (C terms: the absolute bound grows with C)
 *   dlogits  |err| <= 1e-5 |ref| (f32) or 2^-8 |ref| (bf16, one rounding) + 1e-6 |dscale / N|
 *   large |x| (losses.test.ts's stability test): loss 1e-6 |ref| + 1e-26, dlogits 1e-7 (dscale = N)
 * CUDA vs CPU (test/gpu/optim-checks.cjs): loss 2u |cpu| + 1e-12 sum_row (|x| + 1), dlogits
 * 2u |cpu| (f32) or 2^-7 |cpu| (bf16) + 1e-12.
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { roundTo, toF32, uniform } from './case-kit';

const U = 2 ** -23;
const BF = 2 ** -8;

type Storage = 'f32' | 'bf16';

function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

function sigmoidXentRef(
  x: ArrayLike<number>, t: ArrayLike<number>, n: number, c: number, eps: number, dscale: number,
): { loss: Float64Array; dlogits: Float64Array } {
  const loss = new Float64Array(n), dlogits = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    let l = 0;
    for (let j = 0; j < c; j++) {
      const v = x[i * c + j]!, tt = (1 - eps) * t[i * c + j]! + eps / 2;
      l += tt * softplus(-v) + (1 - tt) * softplus(v);
      dlogits[i * c + j] = ((1 / (1 + Math.exp(-v)) - tt) * dscale) / n;
    }
    loss[i] = l;
  }
  return { loss, dlogits };
}

/** Targets in [0, 1): every third a hard 0 or 1. */
function targetsOf(n: number, seed: number): Float64Array {
  const t = uniform(n, seed, 0, 1);
  for (let i = 0; i < n; i += 3) t[i] = (i / 3) % 2;
  return t;
}

interface Params {
  dtype: Storage;
  n: number;
  c: number;
  eps: number;
  dscale: number;
  dlogits: boolean;
  seed: number;
  logits?: Float64Array;
  targets?: Float64Array;
  what?: string;
  /** The stability case's tolerances (see the header). */
  large?: boolean;
}

function makeCase(p: Params): KernelCase {
  const { dtype, n, c } = p;
  const eps = toF32(p.eps);
  const dscale = toF32(p.dscale);
  const logits = roundTo(dtype, p.logits ?? uniform(n * c, p.seed, -8, 8));
  const targets = roundTo('f32', p.targets ?? targetsOf(n * c, p.seed + 1));

  let rowAbs = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.abs(logits[i * c + j]!) + 1;
    rowAbs = Math.max(rowAbs, s);
  }
  const cpuTol: Record<string, Tolerance> = { loss: p.large ? { abs: 1e-26, rel: 1e-6 } : { abs: 4e-6 * c, rel: 4e-6 } };
  const gpuTol: Record<string, Tolerance> = { loss: { abs: 1e-12 * rowAbs, rel: 2 * U } };
  if (p.dlogits) {
    cpuTol.dlogits = p.large ? { abs: 1e-7, rel: 0 } : { abs: (1e-6 * Math.abs(dscale)) / n, rel: dtype === 'f32' ? 1e-5 : BF };
    gpuTol.dlogits = { abs: 1e-12, rel: dtype === 'f32' ? 2 * U : 2 * BF };
  }

  const buffers: Record<string, CaseBuffer> = {
    logits: { dtype, size: n * c, role: 'in', data: logits },
    targets: { dtype: 'f32', size: n * c, role: 'in', data: targets },
    loss: { dtype: 'f32', size: n, role: 'out' },
  };
  if (p.dlogits) buffers.dlogits = { dtype, size: n * c, role: 'out' };
  // Finite differences are meaningless at |x| ~ 1e38 (x + h v == x): no gradient check there.
  // On the smaller shapes only: on 66K logits it would double the file's time for no new path.
  const gradient = p.dlogits && !p.large && n * c <= 20000;
  if (gradient) buffers.lossWeight = { dtype: 'f32', size: n, role: 'in', data: new Float64Array(n).fill(dscale / n) };

  const outputs = p.dlogits ? 'loss and dlogits' : 'loss only';
  const kase: KernelCase = {
    name: `${dtype} ${n}x${c} eps ${p.eps} dscale ${p.dscale} ${outputs}${p.what ? ` ${p.what}` : ''}`,
    dtype,
    layout: `${p.eps ? 'label smoothing' : 'no smoothing'}, ${outputs}${p.what ? `, ${p.what}` : ''}`,
    buffers,
    spec: (b) => ({
      dtype, n, c, epsilon: eps, dscale, logits: b.logits, targets: b.targets, loss: b.loss,
      ...(p.dlogits ? { dlogits: b.dlogits } : {}),
    }),
    reference: (initial) => {
      const r = sigmoidXentRef(initial.logits!, initial.targets!, n, c, eps, dscale);
      const out: Record<string, ArrayLike<number>> = { loss: r.loss };
      if (p.dlogits) out.dlogits = r.dlogits;
      return out;
    },
    tolerance: cpuTol,
    gpuTolerance: gpuTol,
  };
  if (gradient) {
    kase.gradient = {
      forward: (inputs) => ({ loss: sigmoidXentRef(inputs.logits!, inputs.targets!, n, c, eps, dscale).loss }),
      wrt: ['logits'],
      cotangents: { loss: 'lossWeight' },
      grads: { logits: 'dlogits' },
    };
  }
  return kase;
}

const cases: KernelCase[] = [];
let seed = 4000;

// Odd shapes, one class, one example, many classes, and enough work for the CPU's row threads
// (>= 2^16 logits); with and without smoothing, in both storage types, with dlogits.
const SHAPES: [number, number][] = [[1, 1], [1, 3], [3, 17], [17, 129], [5, 1000], [129, 33], [129, 517], [2, 21843]];
for (const dtype of ['f32', 'bf16'] as const) {
  for (const [n, c] of SHAPES) {
    // The two largest shapes take one smoothing each (alternating with the storage type): time.
    const large = n * c > 20000;
    for (const eps of large ? [dtype === 'f32' ? 0 : 0.2] : [0, 0.2]) {
      const dscale = Math.round((0.5 + 3 * uniform(1, seed, 0, 1)[0]!) * 64) / 64;
      cases.push(makeCase({ dtype, n, c, eps, dscale, dlogits: true, seed: seed++ }));
    }
  }
  // Without dlogits only the loss is written.
  cases.push(makeCase({ dtype, n: 3, c: 5, eps: 0, dscale: 1, dlogits: false, seed: seed++ }));
  cases.push(makeCase({ dtype, n: 17, c: 129, eps: 0.2, dscale: 1, dlogits: false, seed: seed++ }));
  cases.push(makeCase({ dtype, n: 129, c: 517, eps: dtype === 'f32' ? 0.2 : 0, dscale: 1, dlogits: false, seed: seed++ }));
  cases.push(makeCase({ dtype, n: 7, c: 19, eps: 0.2, dscale: -2.5, dlogits: true, seed: seed++, what: 'negative dscale' }));
  // Logits of +-100 among the others (test/gpu/optim-checks.cjs): exp(100) overflows nothing here.
  {
    const n = 9, c = 21;
    const logits = uniform(n * c, seed, -12, 12);
    for (let i = 0; i < n * c; i += 5) logits[i] = i % 2 ? 100 : -100;
    cases.push(makeCase({ dtype, n, c, eps: 0.2, dscale: 0.5, dlogits: true, seed: seed++, logits, what: 'logits +-100' }));
  }
}

// Stable for large |logits| (losses.test.ts): no overflow, the asymptotes x (1 - t) and -x t; one
// class per row, dscale = N so that dlogits = s(x) - t.
{
  const logits = Float64Array.of(60, -60, 1e4, -1e4, 3e38, -3e38, 88.5, -104);
  const targets = Float64Array.of(0, 1, 0.25, 0.75, 0, 1, 1, 0);
  cases.push(makeCase({ dtype: 'f32', n: 8, c: 1, eps: 0, dscale: 8, dlogits: true, seed: seed++, logits, targets, what: 'large |logits|', large: true }));
}

const sigmoidXent: KernelCases = { kernel: 'sigmoid_xent', cases };
export default sigmoidXent;
