// reduce_sum: out[0] = sum of x[0 .. n) or of its squares (lib/kernels/reduce_sum.ts ReduceSumArgs), x f32
// or bf16, out f32. The kernel sums fixed blocks of 2^14 elements in double and adds the block sums
// in order, then rounds once to f32. Tolerance: that rounding (2^-24 |ref|, 2^-23 for margin) plus
// the double sums' error, at most (2^14 + blocks) 2^-53 sum|v| ~ 2e-12 sum|v| here (1e-11 bounds it).
import { roundTo, uniform } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';

type Storage = 'f32' | 'bf16';

function sumOf(x: ArrayLike<number>, n: number, squares: boolean): { sum: number; abs: number } {
  let sum = 0;
  let abs = 0;
  for (let i = 0; i < n; i++) {
    const v = squares ? x[i]! * x[i]! : x[i]!;
    sum += v;
    abs += Math.abs(v);
  }
  return { sum, abs };
}

/** x holds `size` elements; the kernel sums the first n (a tail of 1e30s shows a read past n). */
function caseOf(dtype: Storage, squares: boolean, n: number, size: number, layout: string, seed: number): KernelCase {
  const data = uniform(size, seed, -2, 3);
  for (let i = n; i < size; i++) data[i] = 1e30;
  const { abs } = sumOf(roundTo(dtype, data), n, squares);
  return {
    name: `${dtype} ${squares ? 'sum of squares' : 'sum'} n ${n}${size > n ? ` of ${size}` : ''}`,
    dtype,
    layout: `${squares ? 'squares' : 'sum'} ${layout}`,
    buffers: {
      x: { dtype, size, role: 'in', data },
      out: { dtype: 'f32', size: 1, role: 'out' },
    },
    spec: (b) => ({ dtype, n, squares, x: b.x, out: b.out }),
    reference: ({ x }) => ({ out: [sumOf(x!, n, squares).sum] }),
    tolerance: { abs: 1e-11 * abs, rel: 2 ** -23 },
  };
}

const cases: KernelCase[] = [];
for (const dtype of ['f32', 'bf16'] as Storage[]) {
  for (const squares of [false, true]) {
    const seed = (dtype === 'bf16' ? 100 : 0) + (squares ? 50 : 0);
    // Block edges (2^14 = 16384) on both sides, and 100003: seven blocks on the pool.
    for (const [k, n] of [1, 7, 221, 16383, 16385, 100003].entries()) cases.push(caseOf(dtype, squares, n, n, 'contiguous', seed + k));
    cases.push(caseOf(dtype, squares, 13, 20, 'prefix (n < size)', seed + 10));
  }
}
// n = 0 writes 0 over the poison.
cases.push(caseOf('f32', false, 0, 3, 'empty (n 0)', 7));

const reduceSum: KernelCases = { kernel: 'reduce_sum', cases };
export default reduceSum;
