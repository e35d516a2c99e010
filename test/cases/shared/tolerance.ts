/**
 * What the case files whose bounds are per element share (attention_fwd, attention_bwd, gelu_fwd,
 * gelu_bwd, gemm): turning per-element bounds into the one { abs, rel } per output the contract
 * has, and reusing the reference computed on a case's own inputs (the tolerances come from it)
 * when the runner hands the same inputs back. No imports but types: bundled into
 * dist/kernel-checks.cjs. A subfolder of test/cases/, so neither runner takes it for a case file.
 */
import type { KernelCase, Tolerance, Tolerances } from '../case-types';

// Local bindings: under jest's vm context every global lookup (Math) in a hot loop is slow.
const abs = Math.abs;
const max = Math.max;

/**
 * { abs, rel } with abs + rel |ref_i| >= bound_i for every i: for each candidate rel the least
 * such abs, and of those the pair that allows the least in total (the rel that fits the bulk of
 * the elements, the abs that covers the rest). A NaN in `ref` is poison kept in a gap, compared
 * NaN to NaN: it needs no bound.
 */
export function fitTolerance(bound: ArrayLike<number>, ref: ArrayLike<number>, rels: number[]): Tolerance {
  let best: Tolerance | undefined;
  let bestTotal = Infinity;
  for (const rel of rels) {
    let a = 0;
    let total = 0;
    for (let i = 0; i < bound.length; i++) {
      if (Number.isNaN(ref[i]!)) continue; // poison kept in a gap: compared NaN to NaN
      a = max(a, bound[i]! - rel * abs(ref[i]!));
      total += rel * abs(ref[i]!);
    }
    total += a * bound.length;
    if (total < bestTotal) {
      bestTotal = total;
      best = { abs: a, rel };
    }
  }
  return best!;
}

/** The largest |x_i| (0 for none). */
export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = max(m, abs(xs[i]!));
  return m;
}

/** Whether every buffer of `own` has the same contents in `init` (NaN matching NaN). */
export function sameInputs(init: Record<string, Float64Array>, own: Record<string, Float64Array>): boolean {
  for (const [name, mine] of Object.entries(own)) {
    const theirs = init[name];
    if (!theirs || theirs.length !== mine.length) return false;
    for (let i = 0; i < mine.length; i++) {
      const x = mine[i]!;
      const y = theirs[i]!;
      if (x !== y && !(x !== x && y !== y)) return false;
    }
  }
  return true;
}

/**
 * The case `c` with `tolerance` and `gpuTolerance` as getters over `compute`, which runs once, on
 * first use: the tolerances come from the reference on the case's own inputs, so a runner that
 * only loads the file (or checks other kernels) pays nothing for them.
 */
export function withLazyTolerances(
  c: Omit<KernelCase, 'tolerance' | 'gpuTolerance'>,
  compute: () => { cpu: Tolerances; gpu: Tolerances },
): KernelCase {
  let computed: { cpu: Tolerances; gpu: Tolerances } | undefined;
  const get = () => (computed ??= compute());
  return Object.defineProperties(c as KernelCase, {
    tolerance: { get: () => get().cpu, enumerable: true },
    gpuTolerance: { get: () => get().gpu, enumerable: true },
  });
}
