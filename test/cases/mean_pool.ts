// mean_pool: y[b, d] = mean over t of x[b, t, d] (lib/kernels/mean_pool.ts MeanPoolArgs), f32 or bf16 (x and
// y alike), summed in f32 in a fixed order and divided by T once. Tolerance (x in [-2, 2)): the f32
// sum of T terms, (T + 2) 2^-24 mean|x| <= (T + 2) 2^-23 absolute, and the division's rounding,
// 2^-23 |ref| (f32), or for bf16 the store's rounding, 2^-9 |ref| (2^-8 for margin).
import { uniform } from './case-kit';
import type { KernelCases } from './case-types';
import { meanPoolReference } from '../helpers/mean-pool-reference';
import { meanPoolCases } from './shared/mean-pool';

const cases = meanPoolCases(
  (dtype, k) => (dtype === 'f32' ? 0 : 100) + k,
  (dtype, [b, t, d], seed) => ({
    buffers: {
      x: { dtype, size: b * t * d, role: 'in', data: uniform(b * t * d, seed) },
      y: { dtype, size: b * d, role: 'out' },
    },
    spec: (bufs) => ({ dtype, b, t, d, x: bufs.x, y: bufs.y }),
    reference: ({ x }) => ({ y: meanPoolReference(x!, b, t, d) }),
    tolerance: { abs: (t + 2) * 2 ** -23, rel: dtype === 'f32' ? 2 ** -23 : 2 ** -8 },
  }),
);

const meanPool: KernelCases = { kernel: 'mean_pool', cases };
export default meanPool;
