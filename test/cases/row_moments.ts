/**
 * Cases of "row_moments" (lib/kernels/row_moments.ts, native/cpu/row_moments.cc): per-row sum and
 * sum of squares of a column slice, f32 and bf16 x, widths below and above a CUDA block, no rows.
 * Reference: float64 sums of the (rounded) inputs. The kernel sums in double and rounds once to
 * f32: rel 2^-23 (one rounding, doubled), abs 1e-30 for a sum that cancels to ~0. CUDA against the
 * CPU: the same bound on both sides, summed in another order (double): rel 2^-22.
 */
import type { KernelCase, KernelCases } from './case-types';
import { rowValues, type DT } from './shared/split-norm';

function momentsCase(rows: number, dim: number, dtype: DT, seed: number): KernelCase {
  return {
    name: `[${rows}, ${dim}] ${dtype}`,
    dtype,
    layout: 'dense',
    buffers: {
      x: { dtype, size: rows * dim, role: 'in', data: rowValues(rows, dim, seed) },
      stats: { dtype: 'f32', size: rows * 2, role: 'out' },
    },
    spec: (b) => ({ dtype, rows, dim, x: b.x, stats: b.stats }),
    reference: (init) => {
      const stats = new Float64Array(rows * 2);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < dim; j++) {
          const v = init.x![i * dim + j]!;
          stats[2 * i] = stats[2 * i]! + v;
          stats[2 * i + 1] = stats[2 * i + 1]! + v * v;
        }
      }
      return { stats };
    },
    tolerance: { abs: 1e-30, rel: 2 ** -23 },
    gpuTolerance: { abs: 1e-30, rel: 2 ** -22 },
  };
}

const cases: KernelCase[] = [
  momentsCase(1, 1, 'f32', 1),
  momentsCase(7, 13, 'bf16', 2),
  momentsCase(64, 48, 'f32', 3),
  momentsCase(33, 1030, 'bf16', 4),
  momentsCase(300, 257, 'f32', 5),
  momentsCase(0, 5, 'f32', 6),
];

const rowMoments: KernelCases = { kernel: 'row_moments', cases };
export default rowMoments;
