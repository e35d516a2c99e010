/**
 * What mean_pool and mean_pool_bwd share: every shape of test/helpers/mean-pool-reference.ts in
 * both storage types, with the same names, coverage keys and GPU tolerance. Bundled into
 * dist/kernel-checks.cjs: imports only test/cases/ modules and the pure float64 reference file.
 */
import type { KernelCase } from '../case-types';
import { EXACT } from '../case-kit';
import { MEAN_POOL_SHAPES } from '../../helpers/mean-pool-reference';

export type Storage = 'f32' | 'bf16';

/** What a case file adds to the shared fields: buffers, spec, reference, tolerance (and gradient). */
type Rest = Omit<KernelCase, 'name' | 'dtype' | 'layout' | 'gpuTolerance'>;

/** Shape k of storage `dtype` draws from seedOf(dtype, k); `rest` builds the file's part of the case. */
export function meanPoolCases(
  seedOf: (dtype: Storage, k: number) => number,
  rest: (dtype: Storage, shape: [number, number, number], seed: number) => Rest,
): KernelCase[] {
  const cases: KernelCase[] = [];
  for (const dtype of ['f32', 'bf16'] as Storage[]) {
    MEAN_POOL_SHAPES.forEach(([b, t, d], k) => {
      cases.push({
        name: `${dtype} b ${b} t ${t} d ${d}`,
        dtype,
        layout: 'contiguous',
        ...rest(dtype, [b, t, d], seedOf(dtype, k)),
        // CUDA sums in the CPU's order (f32, in order of t) and rounds once: the same bits.
        gpuTolerance: EXACT,
      });
    });
  }
  return cases;
}
