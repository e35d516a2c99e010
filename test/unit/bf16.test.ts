// lib/runtime/bf16.ts against the reference in test/helpers/float-reference.ts (nearest bf16
// computed in float64 from the two truncation neighbours, ties to the even mantissa).
import { bf16BitsToF32, f32ToBf16Bits, fromBf16, toBf16 } from '../../lib/runtime/bf16';
import { decodeBf16, f32BitsOf, f32FromBits, isBf16NaN, referenceBf16Bits } from '../helpers/float-reference';
import { mulberry32, randInt, randomF32, randU32 } from '../helpers/prng';

const hex = (b: number): string => `0x${b.toString(16).padStart(4, '0')}`;

/** Compares f32ToBf16Bits with the reference over `inputs`; returns the first mismatch or null. */
function firstMismatch(inputs: Iterable<number>): string | null {
  for (const x of inputs) {
    const want = referenceBf16Bits(x)!;
    const got = f32ToBf16Bits(x);
    if (got !== want) return `x=${x} (f32 bits 0x${f32BitsOf(x).toString(16)}): got ${hex(got)}, want ${hex(want)}`;
  }
  return null;
}

describe('the test reference itself', () => {
  // Hand-computed cases, so that the reference (which everything else trusts) is checked too.
  test.each([
    { name: '1', x: 1, bits: 0x3f80 },
    { name: '1 + 2^-8 (tie; the even 1 wins)', x: 1 + 2 ** -8, bits: 0x3f80 },
    { name: '1 + 3*2^-8 (tie; the even 1 + 2^-6 wins)', x: 1 + 3 * 2 ** -8, bits: 0x3f82 },
    { name: '1 + 2^-8 + 2^-20 (just above a tie)', x: 1 + 2 ** -8 + 2 ** -20, bits: 0x3f81 },
    { name: '-(1 + 3*2^-8)', x: -(1 + 3 * 2 ** -8), bits: 0xbf82 },
    { name: '3.4e38 (overflows to Infinity)', x: 3.4e38, bits: 0x7f80 },
    { name: '-0', x: -0, bits: 0x8000 },
  ])('reference($name)', ({ x, bits }) => {
    expect(referenceBf16Bits(Math.fround(x))).toBe(bits);
  });
});

describe('f32ToBf16Bits', () => {
  test('random float32 values over all binary exponents (seed 1)', () => {
    const rng = mulberry32(1);
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) xs.push(randomF32(rng, -126, 127));
    expect(firstMismatch(xs)).toBeNull();
  });

  test('random float32 bit patterns, subnormals and NaNs included (seed 2)', () => {
    const rng = mulberry32(2);
    let nans = 0;
    let subnormals = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = f32FromBits(randU32(rng));
      if (Number.isNaN(x)) {
        nans++;
        expect(isBf16NaN(f32ToBf16Bits(x))).toBe(true);
        continue;
      }
      if (x !== 0 && Math.abs(x) < 2 ** -126) subnormals++;
      const want = referenceBf16Bits(x)!;
      const got = f32ToBf16Bits(x);
      if (got !== want) throw new Error(`x=${x}: got ${hex(got)}, want ${hex(want)}`);
    }
    // The draw covered the interesting classes (about 0.4% of patterns are NaN, 0.4% subnormal).
    expect(nans).toBeGreaterThan(100);
    expect(subnormals).toBeGreaterThan(100);
  });

  test('exact ties round to the even neighbour (seed 3)', () => {
    const rng = mulberry32(3);
    for (let i = 0; i < 50_000; i++) {
      // Bits with the lower half exactly 0x8000: the midpoint between bf16 `t` and `t + 1`.
      const t = randInt(rng, 0, 0x7f7f) | (rng() < 0.5 ? 0x8000 : 0);
      const x = f32FromBits(((t << 16) | 0x8000) >>> 0);
      const want = (t & 1) === 0 ? t : t + 1;
      const got = f32ToBf16Bits(x);
      if (got !== want) throw new Error(`tie above ${hex(t)}: got ${hex(got)}, want ${hex(want)}`);
    }
  });

  test('one float32 ulp either side of a tie rounds to the nearer neighbour (seed 4)', () => {
    const rng = mulberry32(4);
    for (let i = 0; i < 50_000; i++) {
      const t = randInt(rng, 0, 0x7f7e) | (rng() < 0.5 ? 0x8000 : 0);
      const below = f32FromBits(((t << 16) | 0x7fff) >>> 0);
      const above = f32FromBits(((t << 16) | 0x8001) >>> 0);
      if (f32ToBf16Bits(below) !== t || f32ToBf16Bits(above) !== t + 1) {
        throw new Error(`around the tie above ${hex(t)}: got ${hex(f32ToBf16Bits(below))}, ${hex(f32ToBf16Bits(above))}`);
      }
    }
  });

  test('NaN stays NaN, whatever its payload and sign', () => {
    const payloads = [0x7fc00000, 0x7f800001, 0x7f80ffff, 0x7f810000, 0xffc00000, 0xff800001, 0x7fffffff];
    for (const p of payloads) {
      const bits = f32ToBf16Bits(f32FromBits(p));
      expect(isBf16NaN(bits)).toBe(true);
      expect(Number.isNaN(bf16BitsToF32(bits))).toBe(true);
    }
    expect(isBf16NaN(f32ToBf16Bits(Number.NaN))).toBe(true);
  });

  test('±Infinity and ±0 are kept, sign included', () => {
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(f32ToBf16Bits(0)).toBe(0x0000);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
  });

  test('values above the largest bf16 plus half an ulp round to ±Infinity', () => {
    // Largest finite bf16: (2 - 2^-7) * 2^127. Half an ulp above it is the tie (odd mantissa, so
    // it goes up to infinity); FLT_MAX and 3.4e38 are beyond it.
    const maxBf16 = (2 - 2 ** -7) * 2 ** 127;
    const tie = (2 - 2 ** -8) * 2 ** 127;
    for (const x of [3.4e38, f32FromBits(0x7f7fffff), tie]) {
      expect(f32ToBf16Bits(x)).toBe(0x7f80);
      expect(f32ToBf16Bits(-x)).toBe(0xff80);
    }
    // Just below the tie rounds down to the largest finite value.
    const belowTie = f32FromBits(0x7f7f7fff);
    expect(bf16BitsToF32(f32ToBf16Bits(belowTie))).toBe(maxBf16);
    expect(bf16BitsToF32(f32ToBf16Bits(-belowTie))).toBe(-maxBf16);
  });

  test('subnormals round like normals, and the smallest round to ±0 or the smallest bf16 subnormal', () => {
    const rng = mulberry32(5);
    const xs: number[] = [];
    for (let i = 0; i < 50_000; i++) xs.push(f32FromBits(randInt(rng, 1, 0x007fffff) | (rng() < 0.5 ? 0x80000000 : 0)));
    expect(firstMismatch(xs)).toBeNull();
    // 2^-149 (the smallest float32) is far below half of 2^-133 (the smallest bf16 subnormal).
    expect(f32ToBf16Bits(2 ** -149)).toBe(0x0000);
    expect(f32ToBf16Bits(-(2 ** -149))).toBe(0x8000);
    expect(bf16BitsToF32(f32ToBf16Bits(2 ** -133))).toBe(2 ** -133);
    // 1.5 * 2^-133 is a tie between 2^-133 (odd mantissa 1) and 2^-132 (even mantissa 2).
    expect(bf16BitsToF32(f32ToBf16Bits(1.5 * 2 ** -133))).toBe(2 ** -132);
    // Rounding up out of the subnormal range gives the smallest normal, 2^-126.
    expect(bf16BitsToF32(f32ToBf16Bits(f32FromBits(0x007fffff)))).toBe(2 ** -126);
  });
});

describe('bf16BitsToF32', () => {
  test('decodes every one of the 65536 encodings exactly', () => {
    for (let b = 0; b < 0x10000; b++) {
      const got = bf16BitsToF32(b);
      if (isBf16NaN(b)) {
        expect(Number.isNaN(got)).toBe(true);
        continue;
      }
      // Independent decode: sign * 2^(e - 127) * (1 + m / 128), or the subnormal / zero forms.
      const sign = b & 0x8000 ? -1 : 1;
      const e = (b >> 7) & 0xff;
      const m = b & 0x7f;
      const want = e === 0xff ? sign * Infinity : e === 0 ? sign * m * 2 ** -133 : sign * (1 + m / 128) * 2 ** (e - 127);
      if (!Object.is(got, want)) throw new Error(`bits ${hex(b)}: got ${got}, want ${want}`);
    }
  });

  test('encode(decode(b)) = b for every non-NaN encoding', () => {
    for (let b = 0; b < 0x10000; b++) {
      if (isBf16NaN(b)) continue;
      if (f32ToBf16Bits(bf16BitsToF32(b)) !== b) throw new Error(`round trip of ${hex(b)}`);
    }
  });
});

describe('toBf16 / fromBf16', () => {
  test('convert whole arrays element by element (seed 6)', () => {
    const rng = mulberry32(6);
    const x = Float32Array.from({ length: 1031 }, () => randomF32(rng, -40, 40));
    const bits = toBf16(x);
    expect(bits).toBeInstanceOf(Uint16Array);
    expect(bits.length).toBe(x.length);
    const back = fromBf16(bits);
    expect(back).toBeInstanceOf(Float32Array);
    for (let i = 0; i < x.length; i++) {
      expect(bits[i]).toBe(referenceBf16Bits(x[i]!));
      expect(back[i]).toBe(decodeBf16(bits[i]!));
    }
  });

  test('empty arrays', () => {
    expect(toBf16(new Float32Array(0)).length).toBe(0);
    expect(fromBf16(new Uint16Array(0)).length).toBe(0);
  });
});
