// cast: y = x converted (lib/kernels/cast.ts CastArgs). f32 -> bf16 rounds to nearest even and keeps
// NaN NaN; bf16 -> f32 is exact; equal types copy. So every case is exact: { abs: 0, rel: 0 } on
// the cpu against the reference and on cuda against the cpu (the rounding rule is the same).
import { EXACT, integers, rng, toBf16, uniform } from './case-kit';
import type { KernelCase, KernelCases } from './case-types';

type Storage = 'f32' | 'bf16';
const F32_MAX = 3.4028234663852886e38;

/**
 * n values over most of f32's range (exponents -140 .. 127, subnormals included), random signs and
 * mantissas, with the special values and bf16 rounding ties first.
 */
function wideValues(n: number, seed: number): Float64Array {
  const special = [
    Number.NaN, Infinity, -Infinity, -0, F32_MAX, -F32_MAX, 1e-40, -1e-45,
    1 + 2 ** -8, // a tie: rounds down to 1 (even)
    1 + 3 * 2 ** -8, // a tie: rounds up to 1 + 2^-6 (even)
    1 + 2 ** -8 + 2 ** -20, // just above a tie: rounds up
    -(1 + 2 ** -8), 3.3961e38, // rounds up past bf16's largest finite value to inf
  ];
  const r = rng(seed);
  const exps = integers(n, seed + 1, -140, 127);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = i < special.length ? special[i]! : (r() < 0.5 ? -1 : 1) * (1 + r()) * 2 ** exps[i]!;
  }
  return out;
}

function caseOf(from: Storage, to: Storage, n: number, label: string, data: Float64Array): KernelCase {
  return {
    name: `${from} -> ${to} ${label}`,
    dtype: `${from}->${to}`,
    layout: 'contiguous',
    buffers: {
      x: { dtype: from, size: n, role: 'in', data },
      y: { dtype: to, size: n, role: 'out' },
    },
    spec: (b) => ({ from, to, n, x: b.x, y: b.y }),
    // The initial x is already in `from`'s type: converting is rounding to `to`'s (a no-op to f32).
    reference: ({ x }) => ({ y: to === 'bf16' ? x!.map(toBf16) : Float64Array.from(x!) }),
    tolerance: EXACT,
    gpuTolerance: EXACT,
  };
}

/** Every finite and infinite bf16 value, as f32 numbers (the NaN patterns upload as one NaN). */
function allBf16(): Float64Array {
  const words = new Uint32Array(65536).map((_, i) => i << 16);
  return Float64Array.from(new Float32Array(words.buffer));
}

const cases: KernelCase[] = [];
for (const [from, to] of [['f32', 'bf16'], ['bf16', 'f32'], ['f32', 'f32'], ['bf16', 'bf16']] as [Storage, Storage][]) {
  // 1, 7 and 13x17 run inline; 70001 is three chunks of 2^15 on the pool (work >= 2^16).
  for (const [k, [label, n]] of ([['1', 1], ['7', 7], ['13x17', 221], ['70001', 70001]] as [string, number][]).entries()) {
    const seed = 1000 * k + from.length * 10 + to.length;
    cases.push(caseOf(from, to, n, label, n < 20 ? uniform(n, seed, -3, 3) : wideValues(n, seed)));
  }
}
cases.push(caseOf('bf16', 'f32', 65536, 'every bf16 bit pattern', allBf16()));

const cast: KernelCases = { kernel: 'cast', cases };
export default cast;
