/**
 * Cases of "adafactor_stats" (lib/kernels/adafactor_stats.ts, native/cpu/adafactor_stats.cc): one
 * shard's partial statistics of a factored Adafactor step, with f32 or bf16 gradients, a gradient
 * scale, with and without the sum of the updated vr, over shapes that split into several 64-row
 * blocks and CUDA's block-per-row widths (> 512 columns), and an empty shard.
 *
 * Reference, float64 from the f32 scalars: s = (gradScale grad)^2 + eps;
 *   rowSums[i] = sum_j s[i, j];  colSums[j] = sum_i s[i, j];
 *   vrSum = sum_i (d vr[i] + (1 - d) rowSums[i] / totalCols).
 * Tolerance: f32 sums of positive terms (up to ~1100), rel 4e-6 on the CPU (adafactor's R = 2e-6
 * doubled: the column sums run over more rows than adafactor's cases); CUDA against the CPU rel 3e-5,
 * adafactor's bound on vr and vc.
 */
import type { CaseBuffer, KernelCase, KernelCases } from './case-types';
import { rng } from './case-kit';

type DT = 'f32' | 'bf16';
const f = Math.fround;

function spread(n: number, seed: number, minExp: number, maxExp: number, positive = false): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (positive || r() < 0.5 ? 1 : -1) * 2 ** (minExp + (maxExp - minExp) * r());
  return out;
}

interface Options {
  rows: number;
  cols: number;
  gradType: DT;
  gradScale: number;
  eps: number;
  decay: number;
  /** The sum of the updated vr, over a shard of complete rows of a [?, totalCols] matrix. */
  vrSum: boolean;
  totalCols?: number;
  seed: number;
}

function statsCase(o: Options): KernelCase {
  const { rows, cols } = o;
  const buffers: Record<string, CaseBuffer> = {
    grad: { dtype: o.gradType, size: rows * cols, role: 'in', data: spread(rows * cols, o.seed, -10, 0) },
    rowSums: { dtype: 'f32', size: rows, role: 'out' },
    colSums: { dtype: 'f32', size: cols, role: 'out' },
  };
  if (o.vrSum) {
    buffers.vr = { dtype: 'f32', size: rows, role: 'in', data: spread(rows, o.seed + 1, -16, -6, true) };
    buffers.vrSum = { dtype: 'f32', size: 1, role: 'out' };
  }
  const [scale, eps, d] = [f(o.gradScale), f(o.eps), f(o.decay)];
  const totalCols = o.totalCols ?? cols;
  const reference = (init: Record<string, Float64Array>): Record<string, Float64Array> => {
    const rowSums = new Float64Array(rows);
    const colSums = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const g = scale * init.grad![i * cols + j]!;
        const s = g * g + eps;
        rowSums[i] = rowSums[i]! + s;
        colSums[j] = colSums[j]! + s;
      }
    }
    const out: Record<string, Float64Array> = { rowSums, colSums };
    if (o.vrSum) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += d * init.vr![i]! + (1 - d) * (rowSums[i]! / totalCols);
      out.vrSum = Float64Array.of(sum);
    }
    return out;
  };
  const flags = [o.gradScale !== 1 ? `gradScale ${o.gradScale}` : '', o.vrSum ? `vrSum (decay ${o.decay})` : '', o.totalCols !== undefined ? `totalCols ${o.totalCols}` : ''].filter(Boolean);
  const tol = { abs: 0, rel: 4e-6 };
  return {
    name: `[${rows}, ${cols}], ${o.gradType} grad${flags.length ? `, ${flags.join(', ')}` : ''}`,
    dtype: `${o.gradType} grad`,
    layout: o.vrSum ? 'row shard (vrSum)' : 'shard',
    buffers,
    spec: (b) => ({
      gradType: o.gradType, rows, cols, grad: b.grad, eps: o.eps, gradScale: o.gradScale, decay: o.decay,
      rowSums: b.rowSums, colSums: b.colSums,
      ...(o.totalCols !== undefined ? { totalCols: o.totalCols } : {}),
      ...(o.vrSum ? { vr: b.vr, vrSum: b.vrSum } : {}),
    }),
    reference,
    tolerance: { rowSums: tol, colSums: tol, vrSum: tol },
    gpuTolerance: { rowSums: { abs: 0, rel: 3e-5 }, colSums: { abs: 0, rel: 3e-5 }, vrSum: { abs: 0, rel: 3e-5 } },
  };
}

const cases: KernelCase[] = [];
const add = (rows: number, cols: number, gradType: DT, more: Partial<Options> = {}): void => {
  cases.push(statsCase({ rows, cols, gradType, gradScale: 1, eps: 1e-30, decay: 0.5, vrSum: false, seed: rows * 1009 + cols * 7 + cases.length * 101, ...more }));
};
add(1, 1, 'f32');
add(3, 17, 'bf16', { gradScale: 0.8 });
add(32, 48, 'f32', { vrSum: true, decay: 0.3 });
add(129, 40, 'bf16', { gradScale: 0.4, vrSum: true, decay: 0.9 });
add(65, 33, 'f32', { vrSum: true, totalCols: 99, decay: 0.7, eps: 1e-8 });
add(33, 517, 'bf16', { gradScale: 0.8 });
add(9, 1031, 'f32', { vrSum: true, decay: 0.2 });
add(1100, 40, 'bf16', { gradScale: 1.5, vrSum: true, decay: 0.999 });
add(300, 257, 'f32', { vrSum: true, decay: 0 });
add(0, 7, 'f32');

const adafactorStats: KernelCases = { kernel: 'adafactor_stats', cases };
export default adafactorStats;
