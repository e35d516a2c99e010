// strided_copy: run i of `cols` elements from x + i xStride to y + i yStride (native/kernels.h
// StridedCopyArgs), f32, bf16 or i32. Pure data movement: exact ({ abs: 0, rel: 0 }) everywhere.
// Every buffer has a tail past its last run, and y's gaps hold random values (or poison, where y is
// an 'out' buffer): elements outside the runs must keep them.
import { EXACT, integers, uniform } from './case-kit';
import type { CaseDType, KernelCase, KernelCases } from './case-types';


// [layout, batch, cols, xStride, yStride]
const SHAPES: [string, number, number, number, number][] = [
  ['contiguous', 1, 7, 7, 7],
  ['contiguous', 13, 17, 17, 17],
  ['x strided (a slice)', 5, 3, 8, 3],
  ['x strided (a slice)', 13, 17, 29, 17],
  ['y strided (a concatenation)', 4, 6, 6, 10],
  ['y strided (a concatenation)', 7, 13, 13, 31],
  ['broadcast (xStride 0)', 6, 5, 0, 5],
  ['broadcast (xStride 0)', 17, 13, 0, 13],
  // batch x cols >= 2^16 with several blocks of runs: the pool's path.
  ['both strided', 700, 97, 120, 100],
  ['broadcast (xStride 0)', 700, 97, 0, 97],
  // From test/gpu/elementwise-checks.cjs (its CUDA-vs-CPU copies moved here): runs of >= 256 words
  // (CUDA's long-run kernel, one grid row per run), odd lengths (2- or 4-byte words) and aligned
  // ones (16-byte words); and short runs of 16- and 8-byte words.
  ['long runs (x strided)', 3, 1031, 1033, 1031],
  ['long runs of 16-byte words (x strided)', 4, 2048, 4096, 2048],
  ['short runs of 16-byte words (y strided)', 7, 8, 8, 16],
  ['short runs of 8-byte words (y strided)', 1000, 2, 2, 6],
  ['empty (cols 0)', 3, 0, 2, 0],
  ['empty (batch 0)', 0, 4, 4, 4],
];

/** Elements a strided operand spans, plus a tail the kernel must not touch. */
function span(batch: number, stride: number, cols: number, tail: number): number {
  return (batch === 0 ? 0 : (batch - 1) * stride + cols) + tail;
}

function valuesOf(dtype: CaseDType, n: number, seed: number): Float64Array {
  return dtype === 'i32' ? integers(n, seed, -1e9, 1e9) : uniform(n, seed, -50, 50);
}

function caseOf(dtype: CaseDType, [layout, batch, cols, xStride, yStride]: (typeof SHAPES)[number], seed: number): KernelCase {
  const xLen = span(batch, xStride, cols, 3);
  const yLen = span(batch, yStride, cols, 2);
  // A contiguous copy overwrites all of y but its tail: poison shows any element it skips.
  const yRole = layout === 'contiguous' ? 'out' : 'inout';
  return {
    name: `${dtype} ${layout} batch ${batch} cols ${cols} strides ${xStride}/${yStride}`,
    dtype,
    layout,
    buffers: {
      x: { dtype, size: xLen, role: 'in', data: valuesOf(dtype, xLen, seed) },
      y: yRole === 'out' ? { dtype, size: yLen, role: 'out' } : { dtype, size: yLen, role: 'inout', data: valuesOf(dtype, yLen, seed + 1) },
    },
    spec: (b) => ({ dtype, batch, cols, x: b.x, xStride, y: b.y, yStride }),
    reference: ({ x, y }) => {
      const out = Float64Array.from(y!);
      for (let i = 0; i < batch; i++) for (let c = 0; c < cols; c++) out[i * yStride + c] = x![i * xStride + c]!;
      return { y: out };
    },
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

const cases: KernelCase[] = [];
for (const [d, dtype] of (['f32', 'bf16', 'i32'] as CaseDType[]).entries()) {
  for (const [s, shape] of SHAPES.entries()) cases.push(caseOf(dtype, shape, 100 * d + 2 * s + 1));
}

const stridedCopy: KernelCases = { kernel: 'strided_copy', cases };
export default stridedCopy;
