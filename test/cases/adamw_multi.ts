/**
 * Cases of "adamw_multi" (lib/kernels/adamw_multi.ts; formula in lib/kernels/records.ts AdamwHyper):
 * one AdamW step of a list of tensors in one call, each with its own size and gradient type, all
 * with the same scalars. A gradient may be shared by several tensors (the binding allows it: only
 * written ranges must be disjoint), including one tensor reading a prefix of another's gradient.
 *
 * Reference: torch.optim.AdamW's formula in float64 per tensor, from the f32 values of the scalars
 * (test/cases/shared/adamw.ts, test/cases/adamw.ts's too).
 *
 * CPU tolerance (u = 2^-24; g the scaled gradient), test/kernels/adamw.test.ts's bounds in abs + rel
 * form, per buffer and taken over the tensors of the case:
 *   m: rel 6u, abs 6u max(beta1 |m| + (1 - beta1) |g|) (the terms may cancel);
 *   v: rel 6u (both terms >= 0);
 *   param: |err| <= 12u (|decayed| + |step|) <= 12u |param'| + 24u |step| -> rel 12u, abs 24u max |step|.
 * GPU tolerance (CUDA vs CPU): test/gpu/optim-checks.cjs compareAdamw (U = 2^-23): param 4U |p| +
 * 8U lr 10, m 4U (|m| + 2), v 4U (|v| + 4), "lr 10" (its bound on |step|) raised to this case's
 * max |step| where that is larger.
 */
import type { CaseBuffer, KernelCase, KernelCases, Tolerance } from './case-types';
import { roundTo, uniform } from './case-kit';
import { adamwStep, hyper, tolerances } from './shared/adamw';
import type { GradType, Hyper, StepResult } from './shared/adamw';

/** One tensor of the list: its size, gradient type, and which gradient buffer it reads. */
interface TensorSpec {
  n: number;
  gradType: GradType;
  /** Name of the gradient buffer; tensors naming the same one share it (sizes and types must agree). */
  grad: string;
}

function multiCase(name: string, dtype: string, layout: string, list: TensorSpec[], seed: number, h: Hyper, extra: Record<string, CaseBuffer> = {}): KernelCase {
  const buffers: Record<string, CaseBuffer> = { ...extra };
  const gradSize = new Map<string, number>();
  for (const t of list) gradSize.set(t.grad, Math.max(gradSize.get(t.grad) ?? 0, t.n));
  let s = seed;
  for (const [g, size] of gradSize) {
    const type = list.find((t) => t.grad === g)!.gradType;
    buffers[g] = { dtype: type, size, role: 'in', data: uniform(size, s++, -2, 2) };
  }
  list.forEach((t, k) => {
    buffers[`param${k}`] = { dtype: 'f32', size: t.n, role: 'inout', data: uniform(t.n, s++, -1, 1) };
    buffers[`m${k}`] = { dtype: 'f32', size: t.n, role: 'inout', data: uniform(t.n, s++, -0.1, 0.1) };
    buffers[`v${k}`] = { dtype: 'f32', size: t.n, role: 'inout', data: uniform(t.n, s++, 1e-6, 0.01) };
  });
  const step = (init: Record<string, ArrayLike<number>>, k: number): StepResult =>
    adamwStep(list[k]!.n, { param: init[`param${k}`]!, grad: init[list[k]!.grad]!, m: init[`m${k}`]!, v: init[`v${k}`]! }, h);
  // Bounds from the stored (rounded) initial values, as the kernel sees them.
  const seen: Record<string, Float64Array> = {};
  for (const [b, buf] of Object.entries(buffers)) seen[b] = roundTo(buf.dtype, buf.data ?? []);
  const cpu: Record<string, Tolerance> = {};
  const gpu: Record<string, Tolerance> = {};
  list.forEach((_, k) => {
    const t = tolerances(step(seen, k), h);
    for (const b of ['param', 'm', 'v'] as const) {
      cpu[`${b}${k}`] = t.cpu[b];
      gpu[`${b}${k}`] = t.gpu[b];
    }
  });
  return {
    name,
    dtype,
    layout,
    buffers,
    spec: (b) => ({
      tensors: list.map((t, k) => ({ n: t.n, gradType: t.gradType, param: b[`param${k}`], grad: b[t.grad], m: b[`m${k}`], v: b[`v${k}`] })),
      ...h,
    }),
    reference: (initial) => {
      const out: Record<string, ArrayLike<number>> = {};
      // Buffers no tensor names (the empty list's canary) keep their initial contents.
      for (const [b, buf] of Object.entries(buffers)) if (buf.role !== 'in') out[b] = initial[b]!;
      list.forEach((_, k) => {
        const r = step(initial, k);
        out[`param${k}`] = r.param;
        out[`m${k}`] = r.m;
        out[`v${k}`] = r.v;
      });
      return out;
    },
    tolerance: cpu,
    gpuTolerance: gpu,
  };
}

const own = (list: [number, GradType][]): TensorSpec[] => list.map(([n, gradType], k) => ({ n, gradType, grad: `grad${k}` }));

const cases: KernelCase[] = [
  // Mixed sizes and gradient types in one call (adamw.test.ts's list): 1, primes, and two tensors of
  // more than one 32768-element task, so the task list spans tensors and the thread pool runs.
  multiCase(
    'f32 and bf16 grads, n = 1, 129, 40000, 17, 70003',
    'f32+bf16', 'tensors',
    own([[1, 'f32'], [129, 'bf16'], [40000, 'f32'], [17, 'bf16'], [70003, 'bf16']]),
    1, hyper({ step: 3, lr: 2e-3, weightDecay: 0.03, gradScale: 0.5 }),
  ),
  multiCase('f32 grads, n = 3, 4099, 2049, step 1', 'f32', 'tensors', own([[3, 'f32'], [4099, 'f32'], [2049, 'f32']]), 2, hyper({ step: 1, lr: 1e-2, weightDecay: 0.1, gradScale: 0.7 })),
  multiCase(
    'bf16 grads, n = 5, 33000, 1037, step 7, other betas',
    'bf16', 'tensors',
    own([[5, 'bf16'], [33000, 'bf16'], [1037, 'bf16']]),
    3, hyper({ step: 7, lr: 3e-4, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0 }),
  ),
  multiCase('one f32 tensor, n = 1001, late step', 'f32', 'tensors', own([[1001, 'f32']]), 4, hyper({ step: 10000, lr: 0.5, weightDecay: 0, gradScale: 2.5 })),
  // A gradient shared by several tensors: two of the same size, one reading a prefix of it, and a
  // bf16 gradient shared by two others, with a tensor of its own in between.
  multiCase(
    'shared gradients: f32 grad by n = 300, 300, 257; bf16 grad by n = 4099, 4099; own f32 grad n = 17',
    'f32+bf16', 'shared grad',
    [
      { n: 300, gradType: 'f32', grad: 'gradA' },
      { n: 4099, gradType: 'bf16', grad: 'gradB' },
      { n: 300, gradType: 'f32', grad: 'gradA' },
      { n: 17, gradType: 'f32', grad: 'gradC' },
      { n: 257, gradType: 'f32', grad: 'gradA' },
      { n: 4099, gradType: 'bf16', grad: 'gradB' },
    ],
    5, hyper({ step: 2, lr: 1e-3, weightDecay: 0.05, gradScale: 0.37 }),
  ),
  // An empty list is a no-op: a buffer no tensor names keeps its contents.
  multiCase('empty list', 'none', 'empty', [], 6, hyper({ step: 1, lr: 1e-3 }), {
    canary: { dtype: 'f32', size: 7, role: 'inout', data: uniform(7, 99, -1, 1) },
  }),
];

const adamwMulti: KernelCases = { kernel: 'adamw_multi', cases };
export default adamwMulti;
