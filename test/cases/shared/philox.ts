/**
 * Philox4x32-10 (Salmon et al., SC'11) in exact 32-bit integer arithmetic on JavaScript numbers:
 * the reference of philox (test/cases/philox.ts, which checks it against Random123's known
 * answers) and of random_init's streams (test/cases/random_init.ts). No imports: bundled into
 * dist/kernel-checks.cjs.
 */

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;

/** [high, low] 32-bit halves of a * b for u32 a, b: a = ah 2^16 + al, each partial product < 2^49. */
function mulHiLo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const t = (a & 0xffff) * b;
  const s = (a >>> 16) * b + Math.floor(t / 65536);
  return [Math.floor(s / 65536), lo];
}

/** Philox4x32-10 of one 128-bit counter (four u32 words, little-endian) under the key [k0, k1]. */
export function philox4x32(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter as [number, number, number, number];
  let [k0, k1] = key as [number, number];
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulHiLo(M0, c0);
    const [hi1, lo1] = mulHiLo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}
