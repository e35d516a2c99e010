/**
 * Cases of "philox" (lib/kernels/philox.ts; lib/kernels/philox.ts PhiloxArgs): raw
 * Philox4x32-10 output, block b = philox(counter + b, key), the counter a 128-bit little-endian
 * integer of four u32 words whose carries propagate (and wrap at 2^128). The u32 words travel in an
 * i32 buffer, so the reference gives them as signed 32-bit integers.
 *
 * Reference: Philox4x32-10 from Salmon et al. (SC'11) in exact 32-bit integer arithmetic on
 * JavaScript numbers (test/cases/shared/philox.ts: the high half of a 32x32-bit product from 16-bit
 * pieces, every partial product below 2^53), the counter stepped as a BigInt. Three cases check
 * the published Random123 known-answer vectors instead, which also pins down this reference. The output depends
 * only on (key, counter), so CPU, reference and CUDA agree bit for bit: tolerance 0 everywhere
 * (test/gpu/elementwise-checks.cjs checks philox bitwise too).
 */
import type { KernelCase, KernelCases } from './case-types';
import { EXACT } from './case-kit';
import { philox4x32 } from './shared/philox';

const POISON = -559038737; // the runner's i32 poison, 0xdeadbeef

const MASK128 = (1n << 128n) - 1n;

/** The words of blocks [0, blocks) as the kernel writes them, then the rest of the buffer untouched. */
function philoxStream(key: readonly number[], counter: readonly number[], blocks: number, size: number): Int32Array {
  const out = new Int32Array(size).fill(POISON);
  const base = counter.reduce((acc, w, i) => acc | (BigInt(w) << BigInt(32 * i)), 0n);
  for (let b = 0; b < blocks; b++) {
    const c = (base + BigInt(b)) & MASK128;
    const words = [0, 1, 2, 3].map((i) => Number((c >> BigInt(32 * i)) & 0xffffffffn));
    philox4x32(words, key).forEach((w, i) => (out[4 * b + i] = w | 0));
  }
  return out;
}

function philoxCase(name: string, key: [number, number], counter: [number, number, number, number], blocks: number, opts: { extra?: number; known?: number[] } = {}): KernelCase {
  const size = 4 * blocks + (opts.extra ?? 0);
  return {
    name,
    dtype: 'i32',
    layout: 'blocks',
    buffers: { out: { dtype: 'i32', size, role: 'out' } },
    spec: (b) => ({ key, counter, blocks, out: b.out }),
    reference: () => ({ out: opts.known ? Int32Array.from(opts.known, (w) => w | 0) : philoxStream(key, counter, blocks, size) }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

const hex = (w: number): string => `0x${w.toString(16)}`;

const cases: KernelCase[] = [
  // Random123's known-answer vectors for Philox4x32-10 (kat_vectors), independent of the reference.
  philoxCase('known answer: key 0, counter 0', [0, 0], [0, 0, 0, 0], 1, { known: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] }),
  philoxCase('known answer: key and counter all ones', [0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 1, {
    known: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  }),
  philoxCase('known answer: digits of pi', [0xa4093822, 0x299f31d0], [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 1, {
    known: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  }),
];

// Counter carries: out of word 0 only, through words 0-2 into word 3, and out of word 3 (the
// counter wraps to 0 at 2^128). Several cases leave words past 4 * blocks in the buffer: they must
// keep their poison.
const carries: [[number, number], [number, number, number, number], number, number][] = [
  [[12345, 678], [0xfffffff0, 5, 0, 0], 40, 3],
  [[12345, 678], [0xfffffffe, 0xffffffff, 0xffffffff, 7], 3, 0],
  [[1, 2], [0xfffffffe, 0xffffffff, 0xffffffff, 0xffffffff], 5, 1],
  [[0xffffffff, 0xffffffff], [0xffffff00, 0xffffffff, 0xffffffff, 0xffffffff], 1000, 0],
  [[7, 0], [0xffffffff, 0, 0xffffffff, 0], 2, 2],
];
for (const [key, counter, blocks, extra] of carries) {
  cases.push(philoxCase(`carries: key [${key.map(hex)}], counter [${counter.map(hex)}], ${blocks} blocks${extra ? `, ${extra} word${extra > 1 ? 's' : ''} past them` : ''}`, key, counter, blocks, { extra }));
}
// Sizes: 1, a prime, and more than 16384 blocks (several tasks on the thread pool), that last one
// also carrying into word 2 in its second task.
cases.push(philoxCase('1 block, key [3, 4], counter [0, 1, 0, 0]', [3, 4], [0, 1, 0, 0], 1, { extra: 3 }));
cases.push(philoxCase('4099 blocks, key [0xa4093822, 0x299f31d0]', [0xa4093822, 0x299f31d0], [7, 0, 9, 0], 4099));
cases.push(philoxCase('16407 blocks over two tasks, carry through word 1 into word 2 at block 16400', [12345, 678], [0xffffbff0, 0xffffffff, 0, 3], 16407, { extra: 1 }));

const philox: KernelCases = { kernel: 'philox', cases };
export default philox;
