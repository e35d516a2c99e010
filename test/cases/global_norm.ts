// global_norm: out[0] = sqrt(sum over a list of buffers of their sums of squares) (native/kernels.h
// GlobalNormArgs), each buffer f32 or bf16 with its own element count, out f32. The sums of squares
// are reduce_sum's (blocks summed in double, in order), then sqrt in double and one f32 rounding:
// 2^-24 |ref| (2^-23 for margin); the double sum's relative error (~1e-12) halves under the sqrt.
import { uniform } from './case-kit';
import type { CaseBuffer, KernelCase, KernelCases } from './case-types';

type Storage = 'f32' | 'bf16';

/** One list entry: a buffer of `size` elements of which the norm reads the first `count`. */
interface Entry {
  dtype: Storage;
  count: number;
  size?: number; // default count; a larger buffer's tail holds 1e30s, which must not be read
}

function caseOf(name: string, dtype: string, layout: string, entries: Entry[], seed: number, repeat = 1): KernelCase {
  const buffers: Record<string, CaseBuffer> = { out: { dtype: 'f32', size: 1, role: 'out' } };
  entries.forEach((e, i) => {
    const size = e.size ?? e.count;
    const data = uniform(size, seed + i, -1, 1);
    for (let j = e.count; j < size; j++) data[j] = 1e30;
    buffers[`b${i}`] = { dtype: e.dtype, size, role: 'in', data };
  });
  // `repeat` lists every buffer that many times (the kernel does not require distinct inputs).
  const listed = Array.from({ length: repeat }, () => entries.map((_, i) => i)).flat();
  return {
    name,
    dtype,
    layout,
    buffers,
    spec: (b) => ({
      buffers: listed.map((i) => b[`b${i}`]),
      dtypes: listed.map((i) => entries[i]!.dtype),
      sizes: listed.map((i) => entries[i]!.count),
      out: b.out,
    }),
    reference: (init) => {
      let squares = 0;
      for (const i of listed) for (let j = 0; j < entries[i]!.count; j++) squares += init[`b${i}`]![j]! ** 2;
      return { out: [Math.sqrt(squares)] };
    },
    tolerance: { abs: 0, rel: 2 ** -23 },
  };
}

const cases: KernelCase[] = [
  caseOf('f32 one buffer of 1', 'f32', 'one buffer', [{ dtype: 'f32', count: 1 }], 1),
  caseOf('bf16 one buffer of 13x17', 'bf16', 'one buffer', [{ dtype: 'bf16', count: 221 }], 2),
  // Past 2^16 elements and across several 2^14 blocks: the pool's path.
  caseOf('f32 one buffer of 70001', 'f32', 'one buffer', [{ dtype: 'f32', count: 70001 }], 3),
  caseOf(
    'f32 + bf16 six buffers of sizes 17 to 40000',
    'f32+bf16',
    'list of mixed dtypes',
    [
      { dtype: 'f32', count: 17 },
      { dtype: 'bf16', count: 15 },
      { dtype: 'f32', count: 20000 },
      { dtype: 'bf16', count: 1 },
      { dtype: 'f32', count: 387 },
      { dtype: 'bf16', count: 40000 },
    ],
    10,
  ),
  caseOf(
    'f32 + bf16 counts below the buffer sizes, one count 0',
    'f32+bf16',
    'prefixes (count < size)',
    [
      { dtype: 'f32', count: 7, size: 12 },
      { dtype: 'bf16', count: 0, size: 5 },
      { dtype: 'bf16', count: 16385, size: 16390 },
    ],
    20,
  ),
  caseOf('f32 + bf16 every buffer listed twice', 'f32+bf16', 'buffers repeated', [{ dtype: 'f32', count: 13 }, { dtype: 'bf16', count: 7 }], 30, 2),
  // No buffers: the norm is 0, written over the poison.
  caseOf('empty list', 'none', 'empty list', [], 40),
];

const globalNorm: KernelCases = { kernel: 'global_norm', cases };
export default globalNorm;
