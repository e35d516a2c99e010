/**
 * What case files (test/cases/<kernel>.ts) share: seeded random inputs, bf16 rounding for
 * references, and small index helpers. Plain TypeScript with no imports, so a case file bundles
 * into dist/kernel-checks.cjs (the GPU runner) without node_modules.
 */

/** mulberry32: a seeded generator of uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [lo, hi), from `seed`; never all zeros (the generator never repeats 0). */
export function uniform(n: number, seed: number, lo = -2, hi = 2): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** n integers uniform in [lo, hi] (inclusive), from `seed`. */
export function integers(n: number, seed: number, lo: number, hi: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r() * (hi - lo + 1));
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x rounded to f32. */
export function toF32(x: number): number {
  return Math.fround(x);
}

/** x rounded to bf16 (round to nearest even from its f32 value; NaN stays NaN), as a number. */
export function toBf16(x: number): number {
  f32[0] = x;
  if (Number.isNaN(f32[0]!)) return Number.NaN;
  const bits = u32[0]!;
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 0;
  u32[0] = (rounded & 0xffff0000) >>> 0;
  return f32[0]!;
}

/** Rounds every element to the storage type (f32 or bf16); i32 unchanged. */
export function roundTo(dtype: 'f32' | 'bf16' | 'i32', xs: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(xs as ArrayLike<number>);
  if (dtype === 'f32') for (let i = 0; i < out.length; i++) out[i] = toF32(out[i]!);
  if (dtype === 'bf16') for (let i = 0; i < out.length; i++) out[i] = toBf16(out[i]!);
  return out;
}

/** A copy of `xs` (initial contents, poison included) to write a reference's output into. */
export function copyOf(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs as ArrayLike<number>);
}

/** Exact (bitwise for 'gpuTolerance'): data movement, permutations, integer results. */
export const EXACT = { abs: 0, rel: 0 } as const;

/** Tolerances by storage type that most elementwise kernels use (one rounding of the output). */
export const ROUNDING = {
  f32: { abs: 1e-6, rel: 1e-5 },
  bf16: { abs: 1e-2, rel: 1e-2 },
} as const;
