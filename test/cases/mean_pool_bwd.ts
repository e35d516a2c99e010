// mean_pool_bwd: dx[b, t, d] = dy[b, d] / T (lib/kernels/mean_pool_bwd.ts MeanPoolBwdArgs), f32 or bf16, one
// f32 division then the store. Tolerance: one rounding, 2^-24 |ref| (f32) or, for bf16, the f32
// quotient's rounding and the store's, under 2^-8 |ref|. Each case also closes the chain against
// mean_pool's forward: <dy, d meanPool(x)[v]> by finite differences must equal <dx, v>.
import { uniform } from './case-kit';
import type { KernelCases } from './case-types';
import { meanPoolReference } from '../helpers/mean-pool-reference';
import { meanPoolCases } from './shared/mean-pool';

const cases = meanPoolCases(
  (dtype, k) => (dtype === 'f32' ? 200 : 300) + 2 * k,
  (dtype, [b, t, d], seed) => ({
    buffers: {
      dy: { dtype, size: b * d, role: 'in', data: uniform(b * d, seed) },
      dx: { dtype, size: b * t * d, role: 'out' },
      // The forward's input, for the finite-difference check only: the kernel never sees it.
      x: { dtype: 'f32', size: b * t * d, role: 'in', data: uniform(b * t * d, seed + 1) },
    },
    spec: (bufs) => ({ dtype, b, t, d, dy: bufs.dy, dx: bufs.dx }),
    reference: ({ dy }) => {
      const dx = new Float64Array(b * t * d);
      for (let i = 0; i < b; i++) for (let k = 0; k < t; k++) for (let j = 0; j < d; j++) dx[(i * t + k) * d + j] = dy![i * d + j]! / t;
      return { dx };
    },
    tolerance: { abs: 0, rel: dtype === 'f32' ? 2 ** -24 : 2 ** -8 },
    gradient: {
      forward: ({ x }) => ({ y: meanPoolReference(x!, b, t, d) }),
      wrt: ['x'],
      cotangents: { y: 'dy' },
      grads: { x: 'dx' },
    },
  }),
);

const meanPoolBwd: KernelCases = { kernel: 'mean_pool_bwd', cases };
export default meanPoolBwd;
