/**
 * Cases of "adamw" (lib/kernels/adamw.ts; formula in lib/kernels/records.ts AdamwHyper): one
 * AdamW step of one tensor, param/m/v updated in place from an f32 or bf16 gradient.
 *
 * Reference: torch.optim.AdamW's formula in float64, written out from kernels.h in
 * test/cases/shared/adamw.ts (adamw_multi's too), from the f32 values of the scalars (the kernel
 * receives them as f32). Each case is one step from a random mid-training state (m of either sign,
 * v > 0) at a given step number, so the bias corrections of early and late steps are both
 * exercised without errors compounding over steps.
 *
 * CPU tolerance (u = 2^-24, f32 unit roundoff; g the scaled gradient), the bounds of
 * test/kernels/adamw.test.ts put in abs + rel form:
 *   m:     |err| <= 6u (beta1 |m| + (1 - beta1) |g|)  ->  rel 6u, abs 6u max_i(beta1 |m| + (1 - beta1) |g|)
 *          (the terms may cancel, so the sum of their magnitudes, not |m'|, bounds the error);
 *   v:     |err| <= 6u v'  (both terms are >= 0: no cancellation, relative alone);
 *   param: |err| <= 12u (|decayed| + |step|) <= 12u |param'| + 24u |step|
 *          ->  rel 12u, abs 24u max_i |step| (step = lr m_hat / (sqrt(v_hat) + eps)).
 * The kernel's constants (1 - lr wd, lr / bc1, sqrt(bc2), 1 - beta) are rounded to f32 once each,
 * and its AVX-512 loop may fuse multiply-adds: both stay inside these bounds.
 * GPU tolerance (CUDA vs CPU): test/gpu/optim-checks.cjs compareAdamw, with U = 2^-23:
 *   param 4U |p| + 8U lr 10, m 4U (|m| + 2), v 4U (|v| + 4); its "lr 10" is its bound on |step|, which
 *   here is this case's own max |step| where that is larger (late steps with lr 0.5 move further).
 */
import type { CaseBuffer, KernelCase, KernelCases } from './case-types';
import { rng, roundTo, uniform } from './case-kit';
import { adamwStep, hyper, tolerances } from './shared/adamw';
import type { GradType, Hyper } from './shared/adamw';

/** Values with a random sign and a magnitude 2^e, e uniform in [minExp, maxExp]: many scales at once. */
function spread(n: number, seed: number, minExp: number, maxExp: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * 2 ** (minExp + (maxExp - minExp) * r());
  return out;
}

/**
 * Initial state. 'typical': the magnitudes of the GPU checks (param in [-1, 1), grad [-2, 2),
 * m [-0.1, 0.1), v (0, 0.01)); 'spread': many binary orders per buffer (as adamw.test.ts draws).
 */
function state(n: number, seed: number, kind: 'typical' | 'spread'): Record<'param' | 'grad' | 'm' | 'v', Float64Array> {
  if (kind === 'typical') {
    return {
      param: uniform(n, seed, -1, 1),
      grad: uniform(n, seed + 1, -2, 2),
      m: uniform(n, seed + 2, -0.1, 0.1),
      v: uniform(n, seed + 3, 1e-6, 0.01),
    };
  }
  return {
    param: spread(n, seed, -6, 1),
    grad: spread(n, seed + 1, -12, 1),
    m: spread(n, seed + 2, -14, 0),
    v: spread(n, seed + 3, -20, 0).map(Math.abs),
  };
}

function adamwCase(n: number, gradType: GradType, kind: 'typical' | 'spread', seed: number, h: Hyper): KernelCase {
  const s = state(n, seed, kind);
  const buffers: Record<string, CaseBuffer> = {
    param: { dtype: 'f32', size: n, role: 'inout', data: s.param },
    grad: { dtype: gradType, size: n, role: 'in', data: s.grad },
    m: { dtype: 'f32', size: n, role: 'inout', data: s.m },
    v: { dtype: 'f32', size: n, role: 'inout', data: s.v },
  };
  // The bounds need the magnitudes the kernel will see: the stored (rounded) initial values.
  const seen = { param: roundTo('f32', s.param), grad: roundTo(gradType, s.grad), m: roundTo('f32', s.m), v: roundTo('f32', s.v) };
  const tol = tolerances(adamwStep(n, seen, h), h);
  const extras = [h.weightDecay > 0 ? `wd ${h.weightDecay}` : 'no wd', h.gradScale !== 1 ? `gradScale ${h.gradScale}` : ''].filter(Boolean).join(', ');
  return {
    name: `${gradType} grad, n=${n}, ${kind} state, step ${h.step}, lr ${h.lr}, ${extras}`,
    dtype: gradType,
    layout: 'dense',
    buffers,
    spec: (b) => ({ n, gradType, param: b.param, grad: b.grad, m: b.m, v: b.v, ...h }),
    reference: (initial) => {
      const r = adamwStep(n, { param: initial.param!, grad: initial.grad!, m: initial.m!, v: initial.v! }, h);
      return { param: r.param, m: r.m, v: r.v };
    },
    tolerance: tol.cpu,
    gpuTolerance: tol.gpu,
  };
}

const cases: KernelCase[] = [];

// f32 gradients: sizes 1 and primes (scalar tails of the 16-lane AVX-512 loop), 4099 (many vectors
// plus a tail) and 70001 (three 32768-element tasks: the thread pool, and a short last chunk).
const f32Hyper = (step: number): Hyper => hyper({ step, lr: 1e-3, weightDecay: 0.05, gradScale: 0.37 });
[1, 3, 17, 129, 4099, 70001].forEach((n, k) => cases.push(adamwCase(n, 'f32', 'typical', 100 + n, f32Hyper(1 + k))));
// bf16 gradients, other betas and eps, no gradient scale.
const bf16Hyper = (step: number): Hyper => hyper({ step, lr: 3e-4, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 });
[1, 17, 129, 4099, 70001].forEach((n, k) => cases.push(adamwCase(n, 'bf16', 'typical', 200 + n, bf16Hyper(2 * k + 1))));
// bf16 gradients with a gradient scale (the global-norm clip factor) and the default betas.
cases.push(adamwCase(1031, 'bf16', 'typical', 7, hyper({ step: 3, lr: 2e-3, weightDecay: 0.03, gradScale: 0.5 })));
// Values over many binary orders (tiny v, large m): both gradient types.
cases.push(adamwCase(1037, 'f32', 'spread', 11, hyper({ step: 2, lr: 1e-2, weightDecay: 0.1, gradScale: 0.6 })));
cases.push(adamwCase(1037, 'bf16', 'spread', 12, hyper({ step: 2, lr: 1e-2, weightDecay: 0.1, gradScale: 0.6 })));
// Late in training (both bias corrections ~1), large steps, no weight decay, gradScale > 1.
cases.push(adamwCase(333, 'f32', 'spread', 5, hyper({ step: 10000, lr: 0.5, weightDecay: 0, gradScale: 2.5 })));
cases.push(adamwCase(333, 'bf16', 'typical', 6, hyper({ step: 10000, lr: 0.5, weightDecay: 0, gradScale: 2.5 })));

const adamw: KernelCases = { kernel: 'adamw', cases };
export default adamw;
