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
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';
import { commonParams, U, xentCase } from './shared/xent';
import type { XentParams } from './shared/xent';

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

interface Params extends XentParams {
  logits?: Float64Array;
  targets?: Float64Array;
  /** The stability case's tolerances (see the header). */
  large?: boolean;
}

function makeCase(p: Params): KernelCase {
  const { n, c } = p;
  const logits = roundTo(p.dtype, p.logits ?? uniform(n * c, p.seed, -8, 8));
  const targets = roundTo('f32', p.targets ?? targetsOf(n * c, p.seed + 1));

  let rowAbs = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.abs(logits[i * c + j]!) + 1;
    rowAbs = Math.max(rowAbs, s);
  }
  return xentCase(p, {
    logits,
    target: { name: 'targets', buffer: { dtype: 'f32', size: n * c, role: 'in', data: targets } },
    ref: sigmoidXentRef,
    loss: { cpu: p.large ? { abs: 1e-26, rel: 1e-6 } : { abs: 4e-6 * c, rel: 4e-6 }, gpu: { abs: 1e-12 * rowAbs, rel: 2 * U } },
    ...(p.large ? { dlogits: { abs: 1e-7, rel: 0 } } : {}),
    // Finite differences are meaningless at |x| ~ 1e38 (x + h v == x): no gradient check there.
    gradient: !p.large,
  });
}

const cases: KernelCase[] = [];
let seed = 4000;

// The cases of shared/xent.ts with smoothing 0.2 (the shapes with and without it, loss only, a
// negative dscale), then logits of +-100, in both storage types.
for (const dtype of ['f32', 'bf16'] as const) {
  const common = commonParams(dtype, 0.2, seed);
  for (const p of common) cases.push(makeCase(p));
  seed += common.length;
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
