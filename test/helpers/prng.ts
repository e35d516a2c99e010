/**
 * A small seeded PRNG (mulberry32) and random-number helpers for tests. Every numeric test draws
 * its inputs from here, so a failure reproduces from the seed printed in the test name.
 */

import { rng as caseKitRng } from '../cases/case-kit';

export type Rng = () => number;

/**
 * mulberry32: a 32-bit state generator; returns uniform numbers in [0, 1). The one copy is the
 * case files' test/cases/case-kit.ts rng (which the GPU runner bundles without test/helpers/).
 */
export const mulberry32: (seed: number) => Rng = caseKitRng;

/** A uniform integer in [lo, hi] (both inclusive). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A uniform 32-bit unsigned integer. */
export function randU32(rng: Rng): number {
  return (randInt(rng, 0, 0xffff) * 0x10000 + randInt(rng, 0, 0xffff)) >>> 0;
}

/**
 * A nonzero float32 value with a random sign, a random full 23-bit mantissa and a binary exponent
 * uniform in [minExp, maxExp]: spreads values over many magnitudes instead of clustering near 1.
 */
export function randomF32(rng: Rng, minExp: number, maxExp: number): number {
  const mantissa = 1 + randInt(rng, 0, 2 ** 23 - 1) / 2 ** 23;
  const sign = rng() < 0.5 ? -1 : 1;
  // mantissa * 2^e is exact in float32 for normal exponents, so fround changes nothing.
  return Math.fround(sign * mantissa * 2 ** randInt(rng, minExp, maxExp));
}

export function randomF32Array(rng: Rng, n: number, minExp: number, maxExp: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = randomF32(rng, minExp, maxExp);
  return out;
}

/**
 * Raw bits of a nonzero, finite, normal bf16 value: random sign, 7-bit mantissa, exponent in
 * [minExp, maxExp] (unbiased; bf16 has float32's exponent range).
 */
export function randomBf16Bits(rng: Rng, minExp: number, maxExp: number): number {
  const sign = rng() < 0.5 ? 0x8000 : 0;
  const biased = randInt(rng, minExp, maxExp) + 127;
  return sign | (biased << 7) | randInt(rng, 0, 0x7f);
}

export function randomBf16BitsArray(rng: Rng, n: number, minExp: number, maxExp: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = randomBf16Bits(rng, minExp, maxExp);
  return out;
}

/** A nonzero scalar in ±[0.25, 4), for alpha and beta. */
export function randomScalar(rng: Rng): number {
  return (rng() < 0.5 ? -1 : 1) * 2 ** (rng() * 4 - 2);
}
