/**
 * Cases of "row_moments_bwd" (lib/kernels/row_moments_bwd.ts, native/cpu/row_moments.cc):
 * dx = dsum + 2 x dsumsq, f32 and bf16. Reference: float64 from the (rounded) inputs. The kernel
 * computes 2 dsumsq (exact), one product and one sum in f32, then rounds to the storage type:
 * |err| <= 2 u (|dsum| + |2 x dsumsq|) with u = 2^-24 (abs: the largest over the case), plus rel
 * 2^-8 for a bf16 store. The gradient check closes it against row_moments' float64 forward.
 */
import type { KernelCase, KernelCases } from './case-types';
import { uniform } from './case-kit';
import { rowValues, type DT } from './shared/split-norm';

function bwdCase(rows: number, dim: number, dtype: DT, seed: number): KernelCase {
  const x = rowValues(rows, dim, seed);
  const dstats = uniform(rows * 2, seed + 1, -1, 1);
  let bound = 0;
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) bound = Math.max(bound, Math.abs(dstats[2 * i]!) + 2 * Math.abs(x[i * dim + j]! * dstats[2 * i + 1]!));
  const tol = { abs: 4 * 2 ** -24 * bound, rel: dtype === 'bf16' ? 2 ** -8 : 0 };
  return {
    name: `[${rows}, ${dim}] ${dtype}`,
    dtype,
    layout: 'dense',
    buffers: {
      x: { dtype, size: rows * dim, role: 'in', data: x },
      dstats: { dtype: 'f32', size: rows * 2, role: 'in', data: dstats },
      dx: { dtype, size: rows * dim, role: 'out' },
    },
    spec: (b) => ({ dtype, rows, dim, x: b.x, dstats: b.dstats, dx: b.dx }),
    reference: (init) => {
      const dx = new Float64Array(rows * dim);
      for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) dx[i * dim + j] = init.dstats![2 * i]! + 2 * init.x![i * dim + j]! * init.dstats![2 * i + 1]!;
      return { dx };
    },
    tolerance: tol,
    gpuTolerance: tol,
    ...(dtype === 'f32' && rows * dim <= 20000
      ? {
          gradient: {
            forward: (i: Record<string, Float64Array>) => {
              const stats = new Float64Array(rows * 2);
              for (let r = 0; r < rows; r++) {
                for (let j = 0; j < dim; j++) {
                  stats[2 * r] = stats[2 * r]! + i.x![r * dim + j]!;
                  stats[2 * r + 1] = stats[2 * r + 1]! + i.x![r * dim + j]! ** 2;
                }
              }
              return { stats };
            },
            wrt: ['x'],
            cotangents: { stats: 'dstats' },
            grads: { x: 'dx' },
          },
        }
      : {}),
  };
}

const cases: KernelCase[] = [bwdCase(1, 1, 'f32', 11), bwdCase(9, 31, 'bf16', 12), bwdCase(64, 48, 'f32', 13), bwdCase(20, 1030, 'bf16', 14), bwdCase(0, 3, 'f32', 15)];

const rowMomentsBwd: KernelCases = { kernel: 'row_moments_bwd', cases };
export default rowMomentsBwd;
