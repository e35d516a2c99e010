// mean_pool: y[b, d] = mean over t of x[b, t, d] (lib/kernels/mean_pool.ts MeanPoolArgs), f32 or bf16 (x and
// y alike), summed in f32 in a fixed order and divided by T once. Tolerance (x in [-2, 2)): the f32
// sum of T terms, (T + 2) 2^-24 mean|x| <= (T + 2) 2^-23 absolute, and the division's rounding,
// 2^-23 |ref| (f32), or for bf16 the store's rounding, 2^-9 |ref| (2^-8 for margin).
import { uniform } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';
import { MEAN_POOL_SHAPES, meanPoolReference } from '../helpers/mean-pool-reference';

type Storage = 'f32' | 'bf16';

function caseOf(dtype: Storage, [b, t, d]: [number, number, number], seed: number): KernelCase {
  return {
    name: `${dtype} b ${b} t ${t} d ${d}`,
    dtype,
    layout: 'contiguous',
    buffers: {
      x: { dtype, size: b * t * d, role: 'in', data: uniform(b * t * d, seed) },
      y: { dtype, size: b * d, role: 'out' },
    },
    spec: (bufs) => ({ dtype, b, t, d, x: bufs.x, y: bufs.y }),
    reference: ({ x }) => ({ y: meanPoolReference(x!, b, t, d) }),
    tolerance: { abs: (t + 2) * 2 ** -23, rel: dtype === 'f32' ? 2 ** -23 : 2 ** -8 },
    // CUDA sums in the CPU's order (f32, in order of t) and rounds once: the same bits.
    gpuTolerance: { abs: 0, rel: 0 },
  };
}

const cases: KernelCase[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  MEAN_POOL_SHAPES.forEach((shape, k) => cases.push(caseOf(dtype, shape, (dtype === 'f32' ? 0 : 100) + k)));
}

const meanPool: KernelCases = { kernel: 'mean_pool', cases };
export default meanPool;
