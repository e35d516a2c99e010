/**
 * pos_embed_bwd (lib/kernels/pos_embed_bwd.ts PosEmbedBwdArgs; spec at the top of
 * lib/kernels/pos_embed_bwd.ts): dpos[t, d] = sum over b of dx[b, t, d] in f32, rounded once
 * to dpos's storage; dx and dpos each f32 or bf16; rows (b, t) of dx dxRowStride apart (sum_to's
 * bias gradient over a column window of a wider matrix, t = 1). The sum's order is part of the
 * contract: b in blocks of 256 rows, each summed in groups of four ((r0 + r1) + (r2 + r3)) then one
 * by one, the block sums added in block order.
 *
 * Reference: the sums in float64 (naive loops over the rows the stride selects). Inputs: dx
 * uniform in [-2, 2) everywhere, the columns between the windows and the tail included (they must
 * not reach the sums), rounded to dx's storage.
 * Tolerances (test/kernels/tokens.test.ts): |err| <= (B + 1) 2^-24 sum_b |dx| (+ 2^-8 |ref| for
 * bf16 dpos), as { abs: the largest over the case's elements, rel: the bf16 rounding }.
 * The 'blocked order' cases check the contract's order bit for bit, as tokens.test.ts does: their
 * reference emulates it in f32 (Math.fround after every addition; bf16 dpos rounded once at the end)
 * and the tolerance is exact.
 * CUDA vs CPU: bitwise (the order is fixed; test/gpu/elementwise-checks.cjs).
 *
 * Gradient: dpos against central differences of pos_embed_add's float64 reference x + pos in pos
 * (the buffer pos, which the kernel does not read; x is constant in pos and taken as 0), laid out
 * like dx, whose gaps the forward leaves at 0: <dx, d(x + pos)[v]> = <dpos, v>.
 */
import type { KernelCase, KernelCases } from './case-types';
import { roundTo, toBf16, uniform } from './case-kit';

type Storage = 'f32' | 'bf16';

const BLOCK = 256; // kernels.h kPosEmbedBwdRowBlock

/** Elements dx spans: (b t - 1) stride + d, with 4 more as a tail (or 4 when there are no rows). */
function dxSize(b: number, t: number, d: number, stride: number): number {
  return b * t === 0 ? 4 : (b * t - 1) * stride + d + 4;
}

/** pos_embed_add's reference x + pos, with x = 0 and the result laid out like dx (gaps 0). */
function posEmbedAddLaidOut(pos: ArrayLike<number>, b: number, t: number, d: number, stride: number): Float64Array {
  const out = new Float64Array(dxSize(b, t, d, stride));
  for (let n = 0; n < b; n++)
    for (let k = 0; k < t; k++)
      for (let j = 0; j < d; j++) out[(n * t + k) * stride + j] = 0 + pos[k * d + j]!;
  return out;
}

/** dpos in float64, and sum_b |dx| per element. */
function sumsRef(dx: ArrayLike<number>, b: number, t: number, d: number, stride: number): { dpos: Float64Array; abs: Float64Array } {
  const dpos = new Float64Array(t * d), abs = new Float64Array(t * d);
  for (let n = 0; n < b; n++)
    for (let k = 0; k < t; k++)
      for (let j = 0; j < d; j++) {
        const v = dx[(n * t + k) * stride + j]!;
        dpos[k * d + j] = dpos[k * d + j]! + v;
        abs[k * d + j] = abs[k * d + j]! + Math.abs(v);
      }
  return { dpos, abs };
}

/** The contract's blocked order in f32 (kernels.h), for the bitwise cases. */
function blockedF32(dx: ArrayLike<number>, b: number, t: number, d: number, stride: number, posDtype: Storage): Float64Array {
  const f = Math.fround;
  const out = new Float64Array(t * d);
  for (let k = 0; k < t; k++) {
    for (let j = 0; j < d; j++) {
      const at = (n: number) => dx[(n * t + k) * stride + j]!;
      let acc = 0;
      for (let b0 = 0; b0 < b || b0 === 0; b0 += BLOCK) {
        const b1 = Math.min(b, b0 + BLOCK);
        let part = 0;
        let n = b0;
        for (; n + 4 <= b1; n += 4) part = f(part + f(f(at(n) + at(n + 1)) + f(at(n + 2) + at(n + 3))));
        for (; n < b1; n++) part = f(part + at(n));
        acc = b0 === 0 ? part : f(acc + part);
      }
      out[k * d + j] = posDtype === 'bf16' ? toBf16(acc) : acc;
    }
  }
  return out;
}

interface Params {
  dtype: Storage;
  posDtype: Storage;
  b: number;
  t: number;
  d: number;
  /** Elements between rows of dx; 0 (dense: the spec leaves dxRowStride out) or >= d. */
  stride: number;
  blocked?: boolean;
  seed: number;
}

function makeCase(p: Params): KernelCase {
  const { dtype, posDtype, b, t, d } = p;
  const stride = p.stride || d;
  const size = dxSize(b, t, d, stride);
  const dx = roundTo(dtype, uniform(size, p.seed, -2, 2));
  const { abs } = sumsRef(dx, b, t, d, stride);
  const maxAbs = abs.reduce((m, v) => Math.max(m, v), 0);
  const layout = p.blocked ? 'blocked order (bitwise)' : b === 0 ? 'no rows (zeros)' : p.stride ? 'dxRowStride (column window)' : 'dense';
  const kase: KernelCase = {
    name: `dx ${dtype} dpos ${posDtype} [${b}, ${t}, ${d}]${p.stride ? ` dxRowStride ${p.stride}` : ''}${p.blocked ? ' blocked order' : ''}`,
    dtype: `dx ${dtype}, dpos ${posDtype}`,
    layout,
    buffers: {
      dx: { dtype, size, role: 'in', data: dx },
      dpos: { dtype: posDtype, size: t * d, role: 'out' },
    },
    spec: (bufs) => ({ dtype, posDtype, b, t, d, dx: bufs.dx, dpos: bufs.dpos, ...(p.stride ? { dxRowStride: p.stride } : {}) }),
    reference: (initial) => ({
      dpos: p.blocked ? blockedF32(initial.dx!, b, t, d, stride, posDtype) : sumsRef(initial.dx!, b, t, d, stride).dpos,
    }),
    tolerance: p.blocked ? { abs: 0, rel: 0 } : { abs: (b + 1) * 2 ** -24 * maxAbs, rel: posDtype === 'bf16' ? 2 ** -8 : 0 },
    gpuTolerance: { abs: 0, rel: 0 },
  };
  if (b > 0 && !p.blocked) {
    kase.buffers.pos = { dtype: 'f32', size: t * d, role: 'in', data: uniform(t * d, p.seed + 1, -1, 1) };
    kase.gradient = {
      forward: (inputs) => ({ x: posEmbedAddLaidOut(inputs.pos!, b, t, d, stride) }),
      wrt: ['pos'],
      cotangents: { x: 'dx' },
      grads: { pos: 'dpos' },
    };
  }
  return kase;
}

const cases: KernelCase[] = [];
let seed = 8000;
const PAIRS: [Storage, Storage][] = [['f32', 'f32'], ['f32', 'bf16'], ['bf16', 'f32'], ['bf16', 'bf16']];

// Dense [b, t, d]: one element, odd shapes, d > 512 (the CPU's 512-column slices), more than 256
// rows of b (several row blocks, the last partial; t > 1 too), enough for the CPU's threads.
const DENSE: [number, number, number][] = [[1, 1, 1], [3, 17, 5], [2, 9, 600], [6, 3, 1030], [515, 1, 5], [300, 3, 77]];
// Strided [b, t, d, dxRowStride]: as tokens.test.ts (a 1030-row bias gradient over a 29-wide
// window, 301 rows of 129 in 400, and no rows at all) and elementwise-checks.cjs (>256 rows).
const STRIDED: [number, number, number, number][] = [
  [1, 1, 1, 3], [3, 17, 5, 8], [2, 9, 600, 1031], [6, 3, 1030, 1030], [1030, 1, 7, 29], [301, 1, 129, 400], [0, 2, 3, 5], [1029, 1, 33, 100],
];
for (const [dtype, posDtype] of PAIRS) {
  for (const [b, t, d] of DENSE) cases.push(makeCase({ dtype, posDtype, b, t, d, stride: 0, seed: seed++ }));
  for (const [b, t, d, stride] of STRIDED) cases.push(makeCase({ dtype, posDtype, b, t, d, stride, seed: seed++ }));
}
// The blocked order bit for bit, across block boundaries (255, 256, 257 rows; 3 and 5 blocks), dense
// and strided, with a bf16 dpos rounded once from the f32 sum.
for (const [dtype, posDtype] of [['f32', 'f32'], ['bf16', 'bf16'], ['f32', 'bf16']] as const) {
  for (const b of [255, 256, 257, 515, 1029]) cases.push(makeCase({ dtype, posDtype, b, t: 1, d: 5, stride: 0, blocked: true, seed: seed++ }));
  cases.push(makeCase({ dtype, posDtype, b: 777, t: 2, d: 9, stride: 13, blocked: true, seed: seed++ }));
}

const posEmbedBwd: KernelCases = { kernel: 'pos_embed_bwd', cases };
export default posEmbedBwd;
