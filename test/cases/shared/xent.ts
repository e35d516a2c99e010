/**
 * What softmax_xent and sigmoid_xent share: the case around a loss (buffers, spec, names, the
 * dlogits tolerances, the finite-difference check of dlogits against the float64 loss contracted
 * with dscale / N per row), the shapes, and the cases both run for a storage type. Each file brings
 * its float64 reference, its second input (labels or targets) and its loss tolerances. Bundled
 * into dist/kernel-checks.cjs: imports only types and test/cases/ modules.
 */
import type { CaseBuffer, KernelCase, Tolerance } from '../case-types';
import { toF32, uniform } from '../case-kit';

export type Storage = 'f32' | 'bf16';

/** f32's unit roundoff as the GPU bounds count it (2^-23). */
export const U = 2 ** -23;
/** One bf16 rounding, relative. */
const BF = 2 ** -8;

/** A loss's float64 reference: the loss of each row and dlogits (the gradient of dscale * mean(loss)). */
export type XentRef = (
  x: ArrayLike<number>, target: ArrayLike<number>, n: number, c: number, eps: number, dscale: number,
) => { loss: Float64Array; dlogits: Float64Array };

export interface XentParams {
  dtype: Storage;
  n: number;
  c: number;
  /** Label smoothing and the gradient's scale, as given (the binding passes their f32 values on). */
  eps: number;
  dscale: number;
  /** Whether the kernel writes dlogits (else the loss only). */
  dlogits: boolean;
  seed: number;
  /** The case's name / layout suffix. */
  what?: string;
}

export interface XentParts {
  /** The logits, rounded to the storage type. */
  logits: Float64Array;
  /** The second input: 'labels' (i32) or 'targets' (f32), with its buffer. */
  target: { name: string; buffer: CaseBuffer };
  ref: XentRef;
  /** The loss's CPU and GPU tolerances. */
  loss: { cpu: Tolerance; gpu: Tolerance };
  /** dlogits' CPU tolerance; default 1e-5 |ref| (f32) or 2^-8 |ref| (bf16) + 1e-6 |dscale / N|. */
  dlogits?: Tolerance;
  /**
   * Whether dlogits may be checked by finite differences; it is, with dlogits, on the smaller
   * shapes only (on 66K logits it would double the file's time for no new path).
   */
  gradient: boolean;
}

/**
 * One case: logits, the target, the loss and (optionally) dlogits, and for the gradient check the
 * buffer lossWeight, the cotangent dscale / N of each row's loss in dscale * mean(loss) (not an
 * operand of the kernel). dlogits on the GPU: both compute in double and round once, the sums in
 * different orders: 2u |cpu| (f32) or 2^-7 |cpu| (bf16) + 1e-12.
 */
export function xentCase(p: XentParams, x: XentParts): KernelCase {
  const { dtype, n, c } = p;
  const eps = toF32(p.eps);
  const dscale = toF32(p.dscale);
  const cpuTol: Record<string, Tolerance> = { loss: x.loss.cpu };
  const gpuTol: Record<string, Tolerance> = { loss: x.loss.gpu };
  if (p.dlogits) {
    cpuTol.dlogits = x.dlogits ?? { abs: (1e-6 * Math.abs(dscale)) / n, rel: dtype === 'f32' ? 1e-5 : BF };
    gpuTol.dlogits = { abs: 1e-12, rel: dtype === 'f32' ? 2 * U : 2 * BF };
  }
  const target = x.target.name;

  const buffers: Record<string, CaseBuffer> = {
    logits: { dtype, size: n * c, role: 'in', data: x.logits },
    [target]: x.target.buffer,
    loss: { dtype: 'f32', size: n, role: 'out' },
  };
  if (p.dlogits) buffers.dlogits = { dtype, size: n * c, role: 'out' };
  const gradient = p.dlogits && x.gradient && n * c <= 20000;
  if (gradient) buffers.lossWeight = { dtype: 'f32', size: n, role: 'in', data: new Float64Array(n).fill(dscale / n) };

  const outputs = p.dlogits ? 'loss and dlogits' : 'loss only';
  const kase: KernelCase = {
    name: `${dtype} ${n}x${c} eps ${p.eps} dscale ${p.dscale} ${outputs}${p.what ? ` ${p.what}` : ''}`,
    dtype,
    layout: `${p.eps ? 'label smoothing' : 'no smoothing'}, ${outputs}${p.what ? `, ${p.what}` : ''}`,
    buffers,
    spec: (b) => ({
      dtype, n, c, epsilon: eps, dscale, logits: b.logits, [target]: b[target], loss: b.loss,
      ...(p.dlogits ? { dlogits: b.dlogits } : {}),
    }),
    reference: (initial) => {
      const r = x.ref(initial.logits!, initial[target]!, n, c, eps, dscale);
      const out: Record<string, ArrayLike<number>> = { loss: r.loss };
      if (p.dlogits) out.dlogits = r.dlogits;
      return out;
    },
    tolerance: cpuTol,
    gpuTolerance: gpuTol,
  };
  if (gradient) {
    kase.gradient = {
      forward: (inputs) => ({ loss: x.ref(inputs.logits!, inputs[target]!, n, c, eps, dscale).loss }),
      wrt: ['logits'],
      cotangents: { loss: 'lossWeight' },
      grads: { logits: 'dlogits' },
    };
  }
  return kase;
}

/**
 * Odd shapes, one class, one example, many classes (a 21843-class head: CUDA's wide-row path), and
 * enough work for the CPU's row threads (>= 2^16 logits).
 */
export const XENT_SHAPES: [number, number][] = [[1, 1], [1, 3], [3, 17], [17, 129], [5, 1000], [129, 33], [129, 517], [2, 21843]];

/**
 * The cases both files run for one storage type, seeds from `seed` on: every shape with and
 * without the smoothing `eps` (the two largest shapes one each, alternating with the storage type:
 * time), with dlogits, dscale random in [0.5, 3.5); without dlogits (only the loss is written); a
 * negative dscale (gradient ascent through the loss, or a sign folded in).
 */
export function commonParams(dtype: Storage, eps: number, seed: number): XentParams[] {
  const out: XentParams[] = [];
  for (const [n, c] of XENT_SHAPES) {
    const large = n * c > 20000;
    for (const e of large ? [dtype === 'f32' ? 0 : eps] : [0, eps]) {
      const dscale = Math.round((0.5 + 3 * uniform(1, seed, 0, 1)[0]!) * 64) / 64;
      out.push({ dtype, n, c, eps: e, dscale, dlogits: true, seed: seed++ });
    }
  }
  out.push({ dtype, n: 3, c: 5, eps: 0, dscale: 1, dlogits: false, seed: seed++ });
  out.push({ dtype, n: 17, c: 129, eps, dscale: 1, dlogits: false, seed: seed++ });
  out.push({ dtype, n: 129, c: 517, eps: dtype === 'f32' ? eps : 0, dscale: 1, dlogits: false, seed: seed++ });
  out.push({ dtype, n: 7, c: 19, eps, dscale: -2.5, dlogits: true, seed: seed++, what: 'negative dscale' });
  return out;
}
