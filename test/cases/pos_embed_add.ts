/**
 * pos_embed_add (lib/kernels/pos_embed_add.ts PosEmbedAddArgs; spec at the top of
 * lib/kernels/pos_embed_add.ts): x[b, t, d] += pos[t, d] in place, in f32, rounded once to x's
 * storage; x and pos each f32 or bf16.
 *
 * Reference: x + pos in float64. Inputs: x uniform in [-3, 3), pos in [-1, 1), rounded to their
 * storage types.
 * Tolerances (test/kernels/tokens.test.ts): one rounding of the exact sum, 2^-24 |ref| for f32 x.
 * For bf16 x the f32 sum is rounded again to bf16: tokens.test.ts's 2^-8 |ref| plus the first
 * rounding's 2^-24 (with margin, 2^-22), so that a double rounding at a tie cannot fail a correct
 * kernel. CUDA vs CPU: bitwise (test/gpu/elementwise-checks.cjs).
 */
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, uniform } from './case-kit';

type Storage = 'f32' | 'bf16';

/** x [b, t, d] + pos [t, d] in float64. */
function posEmbedAddRef(x: ArrayLike<number>, pos: ArrayLike<number>, b: number, t: number, d: number): Float64Array {
  const out = new Float64Array(b * t * d);
  for (let n = 0; n < b; n++)
    for (let k = 0; k < t; k++)
      for (let j = 0; j < d; j++) out[(n * t + k) * d + j] = x[(n * t + k) * d + j]! + pos[k * d + j]!;
  return out;
}

const TOLERANCE: Record<Storage, { abs: number; rel: number }> = {
  f32: { abs: 0, rel: 2 ** -24 },
  bf16: { abs: 0, rel: 2 ** -8 + 2 ** -22 },
};

// [b, t, d]: one element, odd shapes, d > 512 (the backward's slices; here a long row), many
// batches of short rows, the ViT-B/16 token count (197) with enough elements for the CPU's row
// threads (>= 2^16), and no batch at all.
const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 17, 5], [2, 9, 600], [6, 3, 1030], [9, 2, 3], [5, 197, 129], [0, 3, 5]];

const cases: KernelCase[] = [];
let seed = 7000;
for (const dtype of ['f32', 'bf16'] as const) {
  for (const posDtype of ['f32', 'bf16'] as const) {
    for (const [b, t, d] of SHAPES) {
      cases.push({
        name: `x ${dtype} pos ${posDtype} [${b}, ${t}, ${d}]`,
        dtype: `x ${dtype}, pos ${posDtype}`,
        layout: b === 0 ? 'no batch' : 'dense',
        buffers: {
          x: { dtype, size: b * t * d, role: 'inout', data: roundTo(dtype, uniform(b * t * d, seed++, -3, 3)) },
          pos: { dtype: posDtype, size: t * d, role: 'in', data: roundTo(posDtype, uniform(t * d, seed++, -1, 1)) },
        },
        spec: (bufs) => ({ dtype, posDtype, b, t, d, x: bufs.x, pos: bufs.pos }),
        reference: (initial) => ({ x: posEmbedAddRef(initial.x!, initial.pos!, b, t, d) }),
        tolerance: TOLERANCE[dtype],
        gpuTolerance: { abs: 0, rel: 0 },
      });
    }
  }
}

const posEmbedAdd: KernelCases = { kernel: 'pos_embed_add', cases };
export default posEmbedAdd;
