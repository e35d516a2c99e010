/**
 * Counter-based randomness for data: every random decision (an epoch's order, one example's crop,
 * one synthetic image) gets its own stream, seeded by hashing the integers that name it, e.g.
 * (seed, epoch) or (seed, step, position). So any batch can be rebuilt from its step alone, in any
 * order, on any rank, and a resumed run sees the same data as an uninterrupted one.
 */

// Module-level aliases: inside jest's vm sandbox every `Math.x` in a hot loop is a slow global
// lookup (generation ran 25x slower there); a module constant costs nothing anywhere.
const { floor, imul } = Math;

/** murmur3's 32-bit finalizer: a bijection on u32 that spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit hash of a sequence of non-negative safe integers. Each word enters as its low and high
 * 32 bits, so seeds and steps beyond 2^32 still give distinct streams.
 */
export function hashWords(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    const lo = w >>> 0;
    const hi = floor(w / 4294967296) >>> 0;
    h = fmix32(h ^ imul(lo ^ 0x27d4eb2f, 0x165667b1));
    h = fmix32((h + 0x7f4a7c15) ^ imul(hi ^ 0x632be5ab, 0x85ebca77));
  }
  return h;
}

/**
 * mulberry32: a 32-bit state is tiny and fast, and plenty for shuffles, crop offsets and pixel noise
 * (no stream here draws more than a few million numbers). `nextU32` gives 32 random bits; `next` a
 * float in [0, 1).
 */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n) for n <= 2^32 (the float multiply's bias is below 2^-32 * n). */
  below(n: number): number {
    return floor(this.next() * n);
  }
}

/** Named streams, so two uses of the same (seed, ...) never share random numbers. */
export const STREAM = {
  epochOrder: 1,
  augment: 2,
  synthetic: 3,
} as const;

/** A Fisher-Yates permutation of 0..n-1 from the given stream (the classic backwards form). */
export function permutation(n: number, rng: Mulberry32): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
