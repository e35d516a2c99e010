/**
 * What adamw and adamw_multi share: one AdamW step in float64 (torch.optim.AdamW's formula, from
 * the f32 values of the scalars, as lib/kernels/records.ts AdamwHyper states it), the scalars'
 * defaults, and the CPU and GPU tolerances of one tensor's param, m and v (see the case files'
 * headers for the bounds). No imports but types: bundled into dist/kernel-checks.cjs.
 */
import type { Tolerance } from '../case-types';

const u = 2 ** -24;
const U = 2 ** -23;
const f = Math.fround;

export type GradType = 'f32' | 'bf16';

export interface Hyper {
  step: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  gradScale: number;
}

/** The scalars, with torch's betas and eps, weight decay 0.01 and no gradient scale by default. */
export function hyper(h: Partial<Hyper> & { step: number; lr: number }): Hyper {
  return { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, gradScale: 1, ...h };
}

export interface StepResult {
  param: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** max_i (beta1 |m| + (1 - beta1) |g|) and max_i |step|, for the error bounds. */
  mTerms: number;
  stepMax: number;
}

/** One AdamW step in float64 over the first n elements (lib/kernels/records.ts AdamwHyper's formula). */
export function adamwStep(n: number, s: { param: ArrayLike<number>; grad: ArrayLike<number>; m: ArrayLike<number>; v: ArrayLike<number> }, h: Hyper): StepResult {
  const [lr, b1, b2, eps, wd, scale] = [h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.gradScale].map(f) as [number, number, number, number, number, number];
  const bc1 = 1 - b1 ** h.step;
  const bc2 = 1 - b2 ** h.step;
  const out: StepResult = { param: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n), mTerms: 0, stepMax: 0 };
  for (let i = 0; i < n; i++) {
    const g = scale * s.grad[i]!;
    const m = b1 * s.m[i]! + (1 - b1) * g;
    const v = b2 * s.v[i]! + (1 - b2) * g * g;
    const mHat = m / bc1;
    const vHat = v / bc2;
    const step = (lr * mHat) / (Math.sqrt(vHat) + eps);
    out.m[i] = m;
    out.v[i] = v;
    out.param[i] = s.param[i]! * (1 - lr * wd) - step;
    out.mTerms = Math.max(out.mTerms, b1 * Math.abs(s.m[i]!) + (1 - b1) * Math.abs(g));
    out.stepMax = Math.max(out.stepMax, Math.abs(step));
  }
  return out;
}

/**
 * One tensor's tolerances from its step on the stored initial values. CPU (u = 2^-24): m rel 6u,
 * abs 6u max(beta1 |m| + (1 - beta1) |g|); v rel 6u; param rel 12u, abs 24u max |step|. GPU
 * (test/gpu/optim-checks.cjs compareAdamw, U = 2^-23): param 4U |p| + 8U max(lr 10, max |step|),
 * m 4U (|m| + 2), v 4U (|v| + 4).
 */
export function tolerances(r: StepResult, h: Hyper): { cpu: Record<'param' | 'm' | 'v', Tolerance>; gpu: Record<'param' | 'm' | 'v', Tolerance> } {
  return {
    cpu: {
      param: { abs: 24 * u * r.stepMax, rel: 12 * u },
      m: { abs: 6 * u * r.mTerms, rel: 6 * u },
      v: { abs: 0, rel: 6 * u },
    },
    gpu: {
      param: { abs: 8 * U * Math.max(10 * h.lr, r.stepMax), rel: 4 * U },
      m: { abs: 8 * U, rel: 4 * U },
      v: { abs: 16 * U, rel: 4 * U },
    },
  };
}
