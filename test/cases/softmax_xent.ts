/**
 * softmax_xent (lib/kernels/softmax_xent.ts SoftmaxXentArgs; spec at the top of
 * lib/kernels/softmax_xent.ts): softmax cross-entropy with label smoothing, the loss of
 * each row and, when dlogits is given, the gradient of dscale * mean(loss); f32 and bf16 logits.
 *
 * Reference (float64, from the definitions; q = (1 - eps) onehot(label) + eps / C, the smoothed
 * target, with eps and dscale as the f32 values the binding passes on):
 *   loss = sum_j q_j (lse - x_j), written (1 - eps) (lse - x_label) + eps/C sum_j (lse - x_j) with
 *          lse - x_j = (max - x_j) + log sum exp(x - max), so a -inf logit with q_j = 0 adds nothing
 *          (not 0 * inf) and logits near the f32 range do not cancel;
 *   dlogits = (softmax(x)_j - q_j) dscale / N.
 * Inputs: logits uniform in [-6, 6) (rounded to the storage type), labels uniform in [0, C).
 *
 * Gradient: dlogits against central differences of the float64 loss, contracted with dscale / N
 * per row (the buffer lossWeight, which the kernel does not read): the chain
 * kernel ~ reference ~ d(dscale * mean(loss)) of test/kernels/losses.test.ts's finite differences.
 *
 * Tolerances, carried over from test/kernels/losses.test.ts (the inputs are exact storage values,
 * so only the kernel's arithmetic counts: x - max in f32, sums in double, one rounding on store):
 *   loss     |err| <= 4e-6 |ref| + 4e-6 (1 + max |logit|)     (the f32 x - max)
 *   dlogits  |err| <= 1e-5 |ref| (f32) or 2^-8 |ref| (bf16, one rounding) + 1e-6 |dscale / N|
 * The logits-near-the-f32-maximum case uses the row's spread (max - min) in place of max |logit|:
 * x - max is what the kernel rounds, and it is exact there (Sterbenz), while 4e-6 * 3e38 would
 * accept anything.
 * CUDA vs CPU (test/gpu/optim-checks.cjs): both compute in double and round once, the sums in
 * different orders: loss 2u |cpu| + 1e-6, dlogits 2u |cpu| (f32) or 2^-7 |cpu| (bf16) + 1e-12.
 */
import type { KernelCase, KernelCases } from './case-types';
import { integers, roundTo, uniform } from './case-kit';
import { commonParams, U, xentCase } from './shared/xent';
import type { XentParams } from './shared/xent';

/** Loss and dlogits in float64 (the header's formulas). */
function softmaxXentRef(
  x: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number, eps: number, dscale: number,
): { loss: Float64Array; dlogits: Float64Array } {
  const loss = new Float64Array(n), dlogits = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[i * c + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[i * c + j]! - m);
    const logS = Math.log(s);
    const label = labels[i]!;
    let l = (1 - eps) * (m - x[i * c + label]! + logS);
    if (eps !== 0) {
      let offSum = 0;
      for (let j = 0; j < c; j++) offSum += m - x[i * c + j]! + logS;
      l += (eps / c) * offSum;
    }
    loss[i] = l;
    for (let j = 0; j < c; j++) {
      const q = (j === label ? 1 - eps : 0) + eps / c;
      dlogits[i * c + j] = ((Math.exp(x[i * c + j]! - m) / s - q) * dscale) / n;
    }
  }
  return { loss, dlogits };
}

interface Params extends XentParams {
  /** Logits of the case, when not uniform [-6, 6); labels, when not uniform in [0, C). */
  logits?: Float64Array;
  labels?: Float64Array;
  /** Loss error scale per row: max |logit| (default) or the row's spread (see the header). */
  lossScale?: 'maxAbs' | 'spread';
  gradient?: boolean;
}

function makeCase(p: Params): KernelCase {
  const { n, c } = p;
  const logits = roundTo(p.dtype, p.logits ?? uniform(n * c, p.seed, -6, 6));
  const labels = p.labels ?? integers(n, p.seed + 1, 0, c - 1);

  let scale = 0;
  for (let i = 0; i < n; i++) {
    let lo = Infinity, hi = -Infinity, maxAbs = 0;
    for (let j = 0; j < c; j++) {
      const v = logits[i * c + j]!;
      if (!Number.isFinite(v)) continue; // a -inf logit adds exp(-inf) = 0 exactly
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    scale = Math.max(scale, p.lossScale === 'spread' ? hi - lo : maxAbs);
  }
  return xentCase(p, {
    logits,
    target: { name: 'labels', buffer: { dtype: 'i32', size: n, role: 'in', data: labels } },
    ref: softmaxXentRef,
    loss: { cpu: { abs: 4e-6 * (1 + scale), rel: 4e-6 }, gpu: { abs: 1e-6, rel: 2 * U } },
    gradient: p.gradient !== false,
  });
}

const cases: KernelCase[] = [];
let seed = 3000;

// The cases of shared/xent.ts with smoothing 0.1 (the shapes with and without it, loss only, a
// negative dscale), then a large smoothing and -inf logits, in both storage types.
for (const dtype of ['f32', 'bf16'] as const) {
  const common = commonParams(dtype, 0.1, seed);
  for (const p of common) cases.push(makeCase(p));
  seed += common.length;
  // A large smoothing.
  cases.push(makeCase({ dtype, n: 4, c: 11, eps: 0.9, dscale: 1.5, dlogits: true, seed: seed++, what: 'heavy smoothing' }));
  // Without smoothing, a -inf logit (not the label's) has q = 0 and must give a finite loss, not NaN.
  {
    const n = 5, c = 13;
    const logits = uniform(n * c, seed, -6, 6);
    const labels = integers(n, seed + 1, 1, c - 1);
    logits[0] = -Infinity;
    logits[3 * c + 4] = -Infinity;
    labels[3] = (4 + 1 + (labels[3]! % (c - 1))) % c; // never 4
    cases.push(makeCase({ dtype, n, c, eps: 0, dscale: 2.5, dlogits: true, seed: seed++, logits, labels, what: '-inf logits' }));
  }
}

// Huge logit ranges: spreads of +-3e4 (a naive exp would overflow), and a row near the f32 maximum.
{
  const n = 7, c = 33;
  cases.push(makeCase({ dtype: 'f32', n, c, eps: 0.1, dscale: 1, dlogits: true, seed: seed++, logits: uniform(n * c, seed, -3e4, 3e4), what: 'logits +-3e4', gradient: false }));
  seed++;
  const near = Float64Array.from({ length: c }, (_, j) => 3e38 - j * 1e32);
  cases.push(makeCase({
    dtype: 'f32', n: 1, c, eps: 0.1, dscale: 1, dlogits: true, seed: seed++, logits: near, labels: Float64Array.of(20),
    what: 'logits near the f32 maximum', lossScale: 'spread', gradient: false,
  }));
}

const softmaxXent: KernelCases = { kernel: 'softmax_xent', cases };
export default softmaxXent;
